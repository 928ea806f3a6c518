"""Fixtures for the knowledge-base tests (data and helpers in kb_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def shared_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """One read-only fixture KB for the ranking tests (building the spaCy pipelines once)."""
    base = tmp_path_factory.mktemp("kb")
    (base / "matrix.yml").write_text(MATRIX, encoding="utf-8")
    return KnowledgeBase.load(write_kb(base / "kb_articles"), base / "matrix.yml")


@pytest.fixture
def feedback_kb(kb_root: Path, matrix_path: Path) -> KnowledgeBase:
    return KnowledgeBase.load(kb_root, matrix_path, feedback=InMemoryFeedbackStore())
