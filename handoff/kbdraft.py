"""Writes a proposed KB article as a draft Markdown file in the KB article format."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.contract import LANGUAGES
from bot.kb.article import parse_article
from bot.taxonomy import Taxonomy
from handoff.errors import InvalidTicket


def validate_proposal(raw: Any, categories: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidTicket("'propose_article' must be an object")
    title = raw.get("title")
    body = raw.get("body")
    lang = raw.get("lang")
    category = raw.get("category")
    questions = raw.get("questions", [])
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise InvalidTicket("'propose_article.title' must be a non-empty string (max 200)")
    if not isinstance(body, str) or not body.strip() or len(body) > 20000:
        raise InvalidTicket("'propose_article.body' must be a non-empty string (max 20000)")
    if lang not in LANGUAGES:
        raise InvalidTicket(f"'propose_article.lang' must be one of {', '.join(LANGUAGES)}")
    if category not in categories:
        raise InvalidTicket(f"'propose_article.category' must be one of {', '.join(categories)}")
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        raise InvalidTicket("'propose_article.questions' must be a list of strings")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidTicket("'propose_article.tags' must be a list of strings")
    escalate_to = raw.get("escalate_to", "")
    if not isinstance(escalate_to, str):
        raise InvalidTicket("'propose_article.escalate_to' must be a string")
    return {"title": title.strip(), "body": body.strip(), "lang": lang, "category": category,
            "questions": [q.strip() for q in questions], "tags": tags, "escalate_to": escalate_to or None}


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "article"


def write_draft(drafts_dir: Path, proposal: dict[str, Any], reference: str, product: str = "",
                error_code: str = "") -> Path:
    """``<drafts_dir>/<lang>/<id>--<reference>.md``; products and error codes come from the ticket."""
    article_id = f"{proposal['category']}-{slugify(proposal['title'])}"
    front = {
        "id": article_id,
        "title": proposal["title"],
        "lang": proposal["lang"],
        "category": proposal["category"],
        "tags": proposal["tags"],
        "products": [product] if product else [],
        "error_codes": [error_code] if error_code else [],
        "questions": proposal["questions"],
        "escalate_to": proposal["escalate_to"],
    }
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n" + proposal["body"] + "\n"
    target_dir = drafts_dir / proposal["lang"]
    target_dir.mkdir(parents=True, exist_ok=True)
    path: Path = target_dir / f"{article_id}--{reference.lower()}.md"
    path.write_text(text, encoding="utf-8")
    return path


def draft_issues(path: Path, taxonomy: Taxonomy) -> list[str]:
    """What the KB checker would still object to (e.g. too few questions): shown to the agent, the
    draft is kept either way for an editor to finish."""
    result = parse_article(path, taxonomy=taxonomy, folder_lang=path.parent.name)
    return [f"line {issue.line}: {issue.message}" for issue in result.issues]
