"""Routing: the escalation matrix (parsed, validated) and the pure function that picks queue, tier and
priority for a ticket. No I/O here: ``matrix_source`` reads the file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.contract import PRIORITIES, TIERS
from bot.taxonomy import Taxonomy, Term, TaxonomyError, parse_taxonomy
from handoff.errors import MatrixError

CONDITION_KEYS = ("category", "tags", "keywords", "error_codes", "escalate_to", "customer_tier", "impact")
ESCALATE_TO_PLACEHOLDER = "$escalate_to"


Queue = Term  # a queue of the matrix: name, tier, description, labels (bot/taxonomy.py)


@dataclass(frozen=True)
class Conditions:
    """Every given condition must hold (AND); inside one condition any listed value is enough (OR)."""

    category: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()  # exact codes or prefixes ending in '*'
    escalate_to: frozenset[str] = frozenset()  # queue names, or {"*"} for any escalate_to
    customer_tier: frozenset[str] = frozenset()
    impact: frozenset[str] = frozenset()
    _keyword_re: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, facts: Facts) -> bool:
        if self.category and facts.category not in self.category:
            return False
        if self.tags and not (self.tags & {t.lower() for t in facts.tags}):
            return False
        if self._keyword_re is not None and not self._keyword_re.search(facts.text.lower()):
            return False
        if self.error_codes and not _error_code_matches(self.error_codes, facts.error_code):
            return False
        if self.escalate_to:
            if not facts.escalate_to:
                return False
            if "*" not in self.escalate_to and facts.escalate_to not in self.escalate_to:
                return False
        if self.customer_tier and facts.customer_tier not in self.customer_tier:
            return False
        return not (self.impact and facts.impact not in self.impact)


@dataclass(frozen=True)
class Rule:
    name: str
    when: Conditions
    queue: str  # a queue name or "$escalate_to"
    tier: int | None = None
    priority: str | None = None


@dataclass(frozen=True)
class Matrix:
    taxonomy: Taxonomy  # categories and queues with their labels, the part other processes read too
    rules: tuple[Rule, ...]
    tier2: Mapping[str, str]  # category -> queue a tier-1 ticket moves to when it escalates
    tier3_queue: str = "engineering"
    default_queue: str = "tier1-general"
    default_priority: str = "P3"

    @property
    def categories(self) -> Mapping[str, Term]:
        return self.taxonomy.categories

    @property
    def queues(self) -> Mapping[str, Queue]:
        return self.taxonomy.queues


@dataclass(frozen=True)
class Facts:
    """What routing looks at. ``text`` is the description plus what the customer wrote."""

    category: str = "general"
    tags: tuple[str, ...] = ()
    text: str = ""
    error_code: str = ""
    escalate_to: str = ""
    customer_tier: str = "standard"
    impact: str = "only_me"


@dataclass(frozen=True)
class Route:
    queue: str
    tier: int
    priority: str
    rule: str


def route(matrix: Matrix, facts: Facts) -> Route:
    """First matching rule wins; no match -> the default queue with the default priority."""
    for rule in matrix.rules:
        if not rule.when.matches(facts):
            continue
        queue = facts.escalate_to if rule.queue == ESCALATE_TO_PLACEHOLDER else rule.queue
        if queue not in matrix.queues:  # an article names a queue that does not exist: ignore the rule
            continue
        tier = rule.tier if rule.tier is not None else matrix.queues[queue].tier
        return Route(queue, tier, rule.priority or matrix.default_priority, rule.name)
    queue = matrix.default_queue
    return Route(queue, matrix.queues[queue].tier, matrix.default_priority, "default")


def escalation_target(matrix: Matrix, category: str, current_queue: str) -> Queue:
    """The queue one tier up: tier 1 -> the category's tier-2 queue, tier 2 -> tier 3 (engineering)."""
    tier = matrix.queues[current_queue].tier if current_queue in matrix.queues else 1
    if tier <= 1:
        name = matrix.tier2.get(category) or matrix.tier2.get("default") or matrix.tier3_queue
        return matrix.queues[name]
    return matrix.queues[matrix.tier3_queue]


def _error_code_matches(patterns: tuple[str, ...], code: str) -> bool:
    code = code.strip().upper()
    if not code:
        return False
    for pattern in patterns:
        if pattern.endswith("*") and code.startswith(pattern[:-1]):
            return True
        if code == pattern:
            return True
    return False


# -- parsing -------------------------------------------------------------------------------------------


def parse_matrix(data: Any, source: str) -> Matrix:
    """Validate the loaded YAML document; raise MatrixError naming ``source`` and the problem."""

    def fail(what: str) -> MatrixError:
        return MatrixError(f"{source}: {what}")

    try:
        taxonomy = parse_taxonomy(data, source, labels_required=True)
    except TaxonomyError as exc:
        raise MatrixError(str(exc)) from None
    categories, queues = taxonomy.categories, taxonomy.queues
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise fail("'defaults' must be a mapping")
    default_queue = str(defaults.get("queue", "tier1-general"))
    default_priority = str(defaults.get("priority", "P3"))
    tier3_queue = str(defaults.get("tier3_queue", "engineering"))
    for label, value in (("defaults.queue", default_queue), ("defaults.tier3_queue", tier3_queue)):
        if value not in queues:
            raise fail(f"{label}: unknown queue {value!r}")
    if default_priority not in PRIORITIES:
        raise fail(f"defaults.priority: must be one of {', '.join(PRIORITIES)}, got {default_priority!r}")
    tier2 = data.get("tier2") or {}
    if not isinstance(tier2, dict):
        raise fail("'tier2' must be a mapping of category: queue")
    for cat, queue in tier2.items():
        if cat != "default" and cat not in categories:
            raise fail(f"tier2.{cat}: unknown category")
        if queue not in queues:
            raise fail(f"tier2.{cat}: unknown queue {queue!r}")
    raw_rules = data.get("rules")
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list):
        raise fail("'rules' must be a list")
    rules = tuple(_parse_rule(i, raw, categories, queues, fail) for i, raw in enumerate(raw_rules))
    return Matrix(
        taxonomy=taxonomy,
        rules=rules,
        tier2={str(k): str(v) for k, v in tier2.items()},
        tier3_queue=tier3_queue,
        default_queue=default_queue,
        default_priority=default_priority,
    )


def _parse_rule(
    index: int, raw: Any, categories: Mapping[str, Any], queues: Mapping[str, Queue], fail: Any
) -> Rule:
    if not isinstance(raw, dict):
        raise fail(f"rules[{index}]: must be a mapping with name, when, then")
    name = str(raw.get("name") or f"rule-{index}")
    where = f"rules[{index}] ({name})"
    unknown = set(raw) - {"name", "when", "then"}
    if unknown:
        raise fail(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    when = raw.get("when") or {}
    then = raw.get("then")
    if not isinstance(when, dict):
        raise fail(f"{where}: 'when' must be a mapping")
    if not isinstance(then, dict) or "queue" not in then:
        raise fail(f"{where}: 'then' must be a mapping with at least 'queue'")
    bad = set(when) - set(CONDITION_KEYS)
    if bad:
        raise fail(f"{where}: unknown condition(s) {', '.join(sorted(map(str, bad)))}; "
                   f"allowed: {', '.join(CONDITION_KEYS)}")

    def values(key: str) -> list[str]:
        value = when.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(f"{where}: '{key}' must be a string or a list of strings")
        return value

    for cat in values("category"):
        if cat not in categories:
            raise fail(f"{where}: unknown category {cat!r}")
    for queue in values("escalate_to"):
        if queue != "*" and queue not in queues:
            raise fail(f"{where}: escalate_to names unknown queue {queue!r}")
    for ctier in values("customer_tier"):
        if ctier not in ("standard", "vip", "b2b"):
            raise fail(f"{where}: unknown customer_tier {ctier!r}")
    for impact in values("impact"):
        if impact not in ("only_me", "several", "everyone"):
            raise fail(f"{where}: unknown impact {impact!r}")
    keywords = tuple(k.lower() for k in values("keywords"))
    keyword_re = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keywords) + ")") if keywords else None
    conditions = Conditions(
        category=frozenset(values("category")),
        tags=frozenset(t.lower() for t in values("tags")),
        keywords=keywords,
        error_codes=tuple(c.upper() for c in values("error_codes")),
        escalate_to=frozenset(values("escalate_to")),
        customer_tier=frozenset(values("customer_tier")),
        impact=frozenset(values("impact")),
        _keyword_re=keyword_re,
    )
    queue = str(then["queue"])
    if queue != ESCALATE_TO_PLACEHOLDER and queue not in queues:
        raise fail(f"{where}: unknown queue {queue!r}")
    priority: Any = then.get("priority")
    if priority is not None and priority not in PRIORITIES:
        raise fail(f"{where}: priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    tier: Any = then.get("tier")
    if tier is not None and tier not in TIERS:
        raise fail(f"{where}: tier must be 1, 2 or 3")
    extra = set(then) - {"queue", "priority", "tier"}
    if extra:
        raise fail(f"{where}: unknown key(s) in 'then': {', '.join(sorted(map(str, extra)))}")
    return Rule(name=name, when=conditions, queue=queue, tier=tier, priority=priority)
