"""Knowledge-base articles: parsing Markdown files with YAML front matter and validating them.

Every problem is an :class:`Issue` with the file and the 1-based line it is on, so that
``frontdoor kb check`` can print ``path:line: message`` and the engine can skip a bad file and log it
while the rest of the knowledge base keeps serving. Nothing here raises for a bad article.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from bot.contract import LANGUAGES
from bot.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

# libyaml when available (about 10x faster to parse 1,000 articles), the same safe semantics
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MIN_QUESTIONS = 6
DRAFTS_DIR = "drafts"
# per language: messages the knowledge base must not answer (``examples:`` list); the engine learns
# them as one extra "article" that is never shown: when it ranks first, the search abstains
OUT_OF_SCOPE_FILE = "out_of_scope.yml"
OUT_OF_SCOPE_ID = "_out_of_scope"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$")
REQUIRED_FIELDS = ("id", "title", "lang", "category", "questions")
OPTIONAL_FIELDS = ("tags", "escalate_to", "products", "summary", "error_codes", "url")
KNOWN_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)

Severity = Literal["error", "warning"]


class KbError(Exception):
    """Base of every exception raised by the knowledge-base package."""


@dataclass(frozen=True)
class Issue:
    """One problem in one file, at a 1-based line (0 when the problem concerns no particular line)."""

    path: Path
    line: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}: {prefix}{self.message}"


@dataclass(frozen=True)
class Article:
    id: str
    lang: str
    title: str
    category: str
    questions: tuple[str, ...]
    body: str
    path: Path
    tags: tuple[str, ...] = ()
    escalate_to: str | None = None
    products: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()
    summary: str = ""
    url: str | None = None
    line: int = 1  # line of the `id:` field, for messages about the article as a whole

    @property
    def key(self) -> tuple[str, str]:
        return (self.lang, self.id)


@dataclass(frozen=True)
class ParseResult:
    article: Article | None
    issues: tuple[Issue, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.article is not None


def _first_paragraph(body: str) -> str:
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = [ln.strip() for ln in block.splitlines()]
        text = " ".join(ln for ln in lines if ln and not ln.startswith("#"))
        if text:
            return strip_markdown(text)
    return ""


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(\*\*|__|`|^\s*[-*+>]\s+|^\s*\d+\.\s+|^#+\s*)", re.MULTILINE)


@functools.lru_cache(maxsize=8192)
def strip_markdown(text: str) -> str:
    """Plain text from Markdown, good enough for snippets and indexing."""
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_MARKS.sub("", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _split_front_matter(text: str) -> tuple[str, str, int] | None:
    """(front matter, body, line number where the body starts) or None when there is none."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return None


def _mark_line(node: yaml.Node) -> int:
    return node.start_mark.line + 2  # +1 for 1-based, +1 for the opening `---`


class _Fields:
    """The front matter mapping with the line of every key, from the composed YAML node."""

    def __init__(self, node: yaml.MappingNode, path: Path, issues: list[Issue]) -> None:
        self.values: dict[str, object] = {}
        self.lines: dict[str, int] = {}
        self.item_lines: dict[str, list[int]] = {}
        loader = _LOADER("")
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in self.values:
                issues.append(Issue(path, _mark_line(key_node), f"duplicate field '{key}'"))
                continue
            self.lines[key] = _mark_line(key_node)
            if isinstance(value_node, yaml.SequenceNode):
                self.item_lines[key] = [_mark_line(n) for n in value_node.value]
            self.values[key] = loader.construct_object(value_node, deep=True)
        loader.dispose()

    def line(self, key: str, default: int = 1) -> int:
        return self.lines.get(key, default)


# an article is a page a customer reads: 200 kB is far above any real one, and far below what would
# stall the language pipeline (spaCy refuses texts over 1,000,000 characters) or the sentence encoder
MAX_ARTICLE_BYTES = 200_000
MAX_OUT_OF_SCOPE_BYTES = 1_000_000


def _too_big(size: int, limit: int = MAX_ARTICLE_BYTES) -> str:
    return f"the file has {size:,} bytes; at most {limit:,} are allowed (split it into several articles)"


def parse_article(
    path: Path,
    text: str | None = None,
    taxonomy: Taxonomy | None = None,
    folder_lang: str | None = None,
) -> ParseResult:
    """Parse and validate one article file. Errors make ``article`` None; warnings do not."""
    issues: list[Issue] = []
    if text is None:
        try:
            size = path.stat().st_size
            if size > MAX_ARTICLE_BYTES:  # checked before reading: a huge file costs nothing
                return ParseResult(None, (Issue(path, 1, _too_big(size)),))
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return ParseResult(None, (Issue(path, 0, f"cannot read file: {exc}"),))
    if len(text) > MAX_ARTICLE_BYTES:
        return ParseResult(None, (Issue(path, 1, _too_big(len(text.encode("utf-8")))),))
    split = _split_front_matter(text)
    if split is None:
        return ParseResult(
            None, (Issue(path, 1, "missing YAML front matter (the file must start with a '---' line and "
                                  "the front matter must end with a '---' line)"),)
        )
    front, body, body_line = split
    try:
        node = yaml.compose(front, Loader=_LOADER)
    except yaml.YAMLError as exc:
        # the context mark is where the broken construct starts (an unclosed '[' or quote): that is the
        # line to fix; the problem mark is where the parser gave up
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}: {problem}" if context else problem
        return ParseResult(None, (Issue(path, line, f"invalid YAML in front matter: {detail}"),))
    if not isinstance(node, yaml.MappingNode):
        return ParseResult(None, (Issue(path, 2, "front matter must be a YAML mapping of fields"),))
    try:
        fields = _Fields(node, path, issues)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        return ParseResult(None, (Issue(path, line, f"invalid YAML in front matter: {exc}"),))
    values = fields.values

    for name in REQUIRED_FIELDS:
        if name not in values or values[name] in (None, "", []):
            issues.append(Issue(path, fields.line(name), f"missing required field '{name}'"))
    for name in values:
        if name not in KNOWN_FIELDS:
            issues.append(Issue(path, fields.line(name), f"unknown field '{name}'", "warning"))

    def text_field(name: str) -> str | None:
        value = values.get(name)
        if value is None:
            return None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value).strip()
        issues.append(Issue(path, fields.line(name), f"field '{name}' must be a text"))
        return None

    def list_field(name: str) -> tuple[str, ...]:
        value = values.get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            issues.append(Issue(path, fields.line(name), f"field '{name}' must be a list"))
            return ()
        out: list[str] = []
        item_lines = fields.item_lines.get(name, [])
        for i, item in enumerate(value):
            line = item_lines[i] if i < len(item_lines) else fields.line(name)
            if isinstance(item, (str, int, float)) and not isinstance(item, bool) and str(item).strip():
                out.append(str(item).strip())
            else:
                issues.append(Issue(path, line, f"item {i + 1} of '{name}' must be a non-empty text"))
        return tuple(out)

    art_id = text_field("id") or ""
    if art_id and not ID_RE.match(art_id):
        issues.append(Issue(path, fields.line("id"),
                            f"invalid id '{art_id}' (use lowercase letters, digits and '-')"))
    title = text_field("title") or ""
    lang = text_field("lang") or ""
    if lang and lang not in LANGUAGES:
        issues.append(Issue(path, fields.line("lang"),
                            f"unknown lang '{lang}' (expected one of {', '.join(LANGUAGES)})"))
    elif lang and folder_lang is not None and lang != folder_lang:
        issues.append(Issue(path, fields.line("lang"),
                            f"lang '{lang}' does not match the folder '{folder_lang}'"))
    category = text_field("category") or ""
    if category and taxonomy is not None and category not in taxonomy.categories:
        issues.append(Issue(path, fields.line("category"), f"unknown category '{category}' (expected one "
                            f"of {', '.join(sorted(taxonomy.categories))})"))
    escalate_to = text_field("escalate_to")
    if escalate_to and taxonomy is not None and escalate_to not in taxonomy.queues:
        issues.append(Issue(path, fields.line("escalate_to"), f"unknown queue '{escalate_to}' (expected one "
                            f"of {', '.join(sorted(taxonomy.queues))})"))
    questions = list_field("questions")
    if "questions" in values and isinstance(values["questions"], list) and len(questions) < MIN_QUESTIONS:
        issues.append(Issue(path, fields.line("questions"),
                            f"only {len(questions)} questions, at least {MIN_QUESTIONS} needed"))
    seen: dict[str, int] = {}
    q_lines = fields.item_lines.get("questions", [])
    for i, q in enumerate(questions):
        norm = " ".join(q.lower().split())
        line = q_lines[i] if i < len(q_lines) else fields.line("questions")
        if norm in seen:
            issues.append(Issue(path, line, f"duplicate question (same as line {seen[norm]})", "warning"))
        else:
            seen[norm] = line
    tags = list_field("tags")
    products = list_field("products")
    error_codes = list_field("error_codes")
    summary = text_field("summary") or ""
    url = text_field("url")
    body_text = body.strip()
    if not body_text:
        issues.append(Issue(path, body_line, "empty body: the article needs an answer below the front matter"))

    if any(i.severity == "error" for i in issues):
        return ParseResult(None, tuple(issues))
    article = Article(
        id=art_id, lang=lang, title=title, category=category, questions=questions, body=body_text,
        path=path, tags=tags, escalate_to=escalate_to or None, products=products,
        error_codes=error_codes, summary=summary or _first_paragraph(body_text), url=url,
        line=fields.line("id"),
    )
    return ParseResult(article, tuple(issues))


def article_files(root: Path) -> list[Path]:
    """Every served article file (``<root>/<lang>/**/*.md``, drafts excluded), sorted."""
    out: list[Path] = []
    if not root.is_dir():
        return out
    for sub in sorted(root.iterdir()):
        if sub.is_dir() and sub.name != DRAFTS_DIR and not sub.name.startswith("."):
            out.extend(p for p in sorted(sub.rglob("*.md")) if p.is_file())
    return out


def out_of_scope_files(root: Path) -> list[Path]:
    """The existing ``<root>/<lang>/out_of_scope.yml`` files, in language order."""
    return [p for p in (root / lang / OUT_OF_SCOPE_FILE for lang in LANGUAGES) if p.is_file()]


def kb_files(root: Path) -> list[Path]:
    """Every file the knowledge base serves from: articles and out-of-scope examples."""
    return [*article_files(root), *out_of_scope_files(root)]


def _yaml_line(node: yaml.Node) -> int:
    return node.start_mark.line + 1  # a plain YAML file (no front matter)


def parse_out_of_scope(path: Path) -> tuple[tuple[str, ...], list[Issue]]:
    """The examples of one out-of-scope file. A bad entry is skipped with an issue (file and line); a
    file that is not valid YAML, or has no ``examples`` list, yields no examples and one error."""
    found, issues = parse_out_of_scope_file(path)
    return found.get("examples", ()), issues


def parse_out_of_scope_file(path: Path) -> tuple[dict[str, tuple[str, ...]], list[Issue]]:
    """Both lists of an out-of-scope file: ``examples`` (messages the KB must not answer, required) and
    ``companies`` (optional: other companies' and services' names; a message that names one of them and
    not Streamly is about their service, so the bot declines it, however close its words are to an
    article). Bad entries are skipped with an issue (file and line)."""
    issues: list[Issue] = []
    try:
        size = path.stat().st_size
        if size > MAX_OUT_OF_SCOPE_BYTES:
            return {}, [Issue(path, 1, f"the file has {size:,} bytes; at most {MAX_OUT_OF_SCOPE_BYTES:,} "
                                       "are allowed")]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Issue(path, 0, f"cannot read file: {exc}")]
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return {}, [Issue(path, line, f"invalid YAML: {getattr(exc, 'problem', None) or exc}")]
    nodes: dict[str, yaml.Node] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value in ("examples", "companies"):
                nodes[key.value] = value
            else:
                issues.append(Issue(path, _yaml_line(key), f"unknown field '{getattr(key, 'value', key)}' "
                                    "(expected only 'examples' and 'companies')", "warning"))
    examples_node = nodes.get("examples")
    if not isinstance(examples_node, yaml.SequenceNode):
        line = _yaml_line(examples_node) if examples_node is not None else (_yaml_line(root) if root else 1)
        return {}, [*issues, Issue(path, line, "expected 'examples:' with a list of messages")]
    out = {"examples": _text_list(path, examples_node, "example", issues)}
    companies = nodes.get("companies")
    if companies is not None:
        if isinstance(companies, yaml.SequenceNode):
            out["companies"] = _text_list(path, companies, "company name", issues)
        else:
            issues.append(Issue(path, _yaml_line(companies), "expected 'companies:' with a list of names"))
    return out, issues


def _text_list(path: Path, node: yaml.SequenceNode, what: str, issues: list[Issue]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    out: list[str] = []
    for item in node.value:
        line = _yaml_line(item)
        if not isinstance(item, yaml.ScalarNode) or not item.value.strip():
            issues.append(Issue(path, line, f"an {what} must be a non-empty text" if what[0] in "aeiou"
                                else f"a {what} must be a non-empty text"))
            continue
        text_item = " ".join(item.value.split())
        if text_item.casefold() in seen:
            issues.append(Issue(path, line, f"duplicate {what} (also on line {seen[text_item.casefold()]})",
                                "warning"))
            continue
        seen[text_item.casefold()] = line
        out.append(text_item)
    return tuple(out)


def load_out_of_scope(root: Path) -> tuple[dict[str, tuple[str, ...]], list[Issue]]:
    """Out-of-scope examples per language (languages without a file are absent)."""
    examples, _, issues = load_out_of_scope_lists(root)
    return examples, issues


def load_out_of_scope_lists(root: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]],
                                                 list[Issue]]:
    """Out-of-scope examples and other companies' names per language, and the files' issues."""
    examples: dict[str, tuple[str, ...]] = {}
    companies: dict[str, tuple[str, ...]] = {}
    issues: list[Issue] = []
    for path in out_of_scope_files(root):
        found, problems = parse_out_of_scope_file(path)
        issues.extend(problems)
        if found.get("examples"):
            examples[path.parent.name] = found["examples"]
        if found.get("companies"):
            companies[path.parent.name] = found["companies"]
    return examples, companies, issues


class ArticleCache:
    """Parsed articles keyed by (path, mtime, size), so that a reload re-parses only changed files."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int], ParseResult]] = {}

    def parse(self, path: Path, taxonomy: Taxonomy | None, folder_lang: str | None) -> ParseResult:
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError as exc:
            return ParseResult(None, (Issue(path, 0, f"cannot read file: {exc}"),))
        hit = self._entries.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        result = parse_article(path, None, taxonomy, folder_lang)
        self._entries[path] = (stamp, result)
        return result

    def forget_missing(self, present: Iterable[Path]) -> None:
        keep = set(present)
        for p in list(self._entries):
            if p not in keep:
                del self._entries[p]


def load_articles(
    root: Path, taxonomy: Taxonomy | None, cache: ArticleCache | None = None
) -> tuple[list[Article], list[Issue]]:
    """Parse every served article under ``root``; bad files and duplicate ids are skipped with issues."""
    articles: list[Article] = []
    issues: list[Issue] = []
    if not root.is_dir():
        issues.append(Issue(root, 0, "knowledge-base folder not found"))
        return articles, issues
    files = article_files(root)
    if cache is not None:
        cache.forget_missing(files)
    seen: dict[tuple[str, str], Article] = {}
    for path in files:
        folder = path.relative_to(root).parts[0]
        if folder not in LANGUAGES:
            issues.append(Issue(path, 0, f"unknown language folder '{folder}' (expected one of "
                                f"{', '.join(LANGUAGES)} or '{DRAFTS_DIR}')"))
            continue
        result = cache.parse(path, taxonomy, folder) if cache else parse_article(path, None, taxonomy, folder)
        issues.extend(result.issues)
        art = result.article
        if art is None:
            continue
        other = seen.get(art.key)
        if other is not None:
            issues.append(Issue(path, art.line, f"duplicate id '{art.id}' for lang '{art.lang}' "
                                f"(already used by {other.path}:{other.line})"))
            continue
        seen[art.key] = art
        articles.append(art)
    return articles, issues


def log_issues(issues: Iterable[Issue]) -> None:
    for issue in issues:
        if issue.severity == "error":
            logger.warning("kb article skipped: %s", issue)
        else:
            logger.info("kb article warning: %s", issue)


def count_by_severity(issues: Iterable[Issue]) -> Mapping[str, int]:
    counts = {"error": 0, "warning": 0}
    for i in issues:
        counts[i.severity] += 1
    return counts
