"""The escalation matrix's vocabulary: its categories and queues, with the labels a customer reads in each
of the bot's languages. This is the one reader of that part of ``handoff/escalation_matrix.yml``: the
handoff service builds its routing on it (``handoff/routing.py``), the knowledge base checks the category
and queue an article names against it, the action server tells customers its labels, and the agents'
console gets it from the handoff service (``GET /api/v1/taxonomy``).

    categories:
      billing: {description: "Charges, refunds", label: {de: Abrechnung, en: Billing, da: Betaling}}
    queues:
      billing: {tier: 2, description: "Billing specialists", label: {de: Abrechnungsteam, ...}}

A category may also be a bare description (``billing: Charges, refunds``) and labels may be left out
where nobody reads them (test matrices); ``labels_required=True`` (the handoff service at start, and so
every deployment) asks for a label in every language.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.contract import LANGUAGES, TIERS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MATRIX = ROOT / "handoff" / "escalation_matrix.yml"


class TaxonomyError(ValueError):
    """The categories and queues of the escalation matrix cannot be read; the message names the file."""


@dataclass(frozen=True)
class Term:
    """A category or a queue."""

    name: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    tier: int = 0  # queues: 1, 2 or 3; categories: 0

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("en") or self.description or self.name

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description, "labels": dict(self.labels)}
        if self.tier:
            out["tier"] = self.tier
        return out


@dataclass(frozen=True)
class Taxonomy:
    categories: Mapping[str, Term]
    queues: Mapping[str, Term]

    def category_label(self, name: str, lang: str) -> str:
        term = self.categories.get(name)
        return term.label(lang) if term else name

    def queue_label(self, name: str, lang: str) -> str:
        term = self.queues.get(name)
        return term.label(lang) if term else name

    def as_json(self) -> dict[str, Any]:
        return {"categories": [t.as_json() for t in self.categories.values()],
                "queues": [t.as_json() for t in self.queues.values()]}


def _labels(raw: Any, where: str, source: str, required: bool) -> dict[str, str]:
    if raw is None and not required:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
        raise TaxonomyError(f"{source}: {where}.label must be a mapping of language: text")
    unknown = sorted(set(map(str, raw)) - set(LANGUAGES))
    if unknown:
        raise TaxonomyError(f"{source}: {where}.label: unknown language {', '.join(unknown)}")
    missing = [lang for lang in LANGUAGES if lang not in raw]
    if required and missing:
        raise TaxonomyError(f"{source}: {where}.label: no text for {', '.join(missing)} (customers read it)")
    return {str(k): str(v) for k, v in raw.items()}


def parse_taxonomy(data: Any, source: str, *, labels_required: bool = False) -> Taxonomy:
    """The ``categories`` and ``queues`` of a loaded matrix document; TaxonomyError names ``source``."""
    if not isinstance(data, dict):
        raise TaxonomyError(f"{source}: the document must be a mapping with categories, queues and rules")
    raw_categories, raw_queues = data.get("categories"), data.get("queues")
    if not isinstance(raw_categories, dict) or not raw_categories:
        raise TaxonomyError(f"{source}: 'categories' must be a non-empty mapping of name: description")
    if not isinstance(raw_queues, dict) or not raw_queues:
        raise TaxonomyError(f"{source}: 'queues' must be a non-empty mapping of name: {{tier, description}}")
    categories: dict[str, Term] = {}
    for name, spec in raw_categories.items():
        spec = {"description": spec} if not isinstance(spec, dict) else spec
        categories[str(name)] = Term(str(name), str(spec.get("description") or ""),
                                     _labels(spec.get("label"), f"categories.{name}", source, labels_required))
    queues: dict[str, Term] = {}
    for name, spec in raw_queues.items():
        if not isinstance(spec, dict) or spec.get("tier") not in TIERS:
            raise TaxonomyError(f"{source}: queues.{name}: needs 'tier' 1, 2 or 3")
        queues[str(name)] = Term(str(name), str(spec.get("description") or ""),
                                 _labels(spec.get("label"), f"queues.{name}", source, labels_required),
                                 int(spec["tier"]))
    return Taxonomy(categories, queues)


def read_matrix_document(path: Path) -> Any:
    """The matrix file as YAML data; TaxonomyError names the file (and the line of a YAML error)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read the escalation matrix ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise TaxonomyError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None


def load_taxonomy(path: Path, *, labels_required: bool = False) -> Taxonomy:
    return parse_taxonomy(read_matrix_document(path), str(path), labels_required=labels_required)


def matrix_path(env: Mapping[str, str] | None = None) -> Path:
    """The deployment's matrix: ``HANDOFF_MATRIX`` or the shipped file."""
    value = (os.environ if env is None else env).get("HANDOFF_MATRIX")
    return Path(value) if value else DEFAULT_MATRIX


@functools.lru_cache(maxsize=4)
def deployed_taxonomy(path: Path | None = None) -> Taxonomy:
    """The taxonomy of this deployment's matrix, read once per process (labels only change with a
    restart of the action server; the handoff service reloads its own matrix)."""
    return load_taxonomy(path or matrix_path(), labels_required=True)
