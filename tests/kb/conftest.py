"""Fixtures for the knowledge-base tests (data and helpers in kb_fixtures.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.kb.encoder import E5Encoder
from bot.kb.feedback import InMemoryFeedbackStore
from bot.kb.search import KnowledgeBase
from kb_fixtures import MATRIX, write_kb


@pytest.fixture
def matrix_path(tmp_path: Path) -> Path:
    path = tmp_path / "escalation_matrix.yml"
    path.write_text(MATRIX, encoding="utf-8")
    return path


@pytest.fixture
def kb_root(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb_articles")


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def dense() -> dict[str, Any]:
    """The real sentence encoder, with the repository's embedding cache (what the bot runs with)."""
    return {"encoder": E5Encoder(), "embedding_cache": ROOT / "var" / "cache" / "embeddings"}


@pytest.fixture(scope="session")
def shared_kb(tmp_path_factory: pytest.TempPathFactory, dense: dict[str, Any]) -> KnowledgeBase:
    """One read-only fixture KB for the ranking tests, with the sentence encoder like the bot's."""
    base = tmp_path_factory.mktemp("kb")
    (base / "matrix.yml").write_text(MATRIX, encoding="utf-8")
    return KnowledgeBase.load(write_kb(base / "kb_articles"), base / "matrix.yml", **dense)


@pytest.fixture(scope="session")
def lexical_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The same KB without the encoder: word and character n-grams only."""
    base = tmp_path_factory.mktemp("kb")
    (base / "matrix.yml").write_text(MATRIX, encoding="utf-8")
    return KnowledgeBase.load(write_kb(base / "kb_articles"), base / "matrix.yml")


@pytest.fixture
def feedback_kb(kb_root: Path, matrix_path: Path) -> KnowledgeBase:
    return KnowledgeBase.load(kb_root, matrix_path, feedback=InMemoryFeedbackStore())
