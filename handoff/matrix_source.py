"""Loads the escalation matrix from its YAML file and keeps the last good one while the service runs."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.taxonomy import TaxonomyError, read_matrix_document
from handoff.errors import MatrixError
from handoff.routing import Matrix, parse_matrix

logger = logging.getLogger(__name__)


def load_matrix(path: Path) -> Matrix:
    try:
        data = read_matrix_document(path)
    except TaxonomyError as exc:
        raise MatrixError(str(exc)) from None
    return parse_matrix(data, str(path))


class MatrixSource:
    """The current matrix. ``reload()`` swaps it only when the new file is valid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.matrix = load_matrix(path)
        self._mtime = self._stat()

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def reload(self) -> Matrix:
        """Load the file again; on error keep the last good matrix and raise MatrixError."""
        self._mtime = self._stat()
        matrix = load_matrix(self.path)
        self.matrix = matrix
        logger.info("escalation matrix reloaded from %s (%d rules)", self.path, len(matrix.rules))
        return matrix

    def reload_if_changed(self) -> bool:
        if self._stat() == self._mtime:
            return False
        try:
            self.reload()
        except MatrixError as exc:
            logger.error("keeping the last good escalation matrix: %s", exc.detail)
            return False
        return True
