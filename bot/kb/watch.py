"""Hot reload by mtime polling (no watchdog): a thread compares (mtime, size) of every served article,
the out-of-scope examples and the taxonomy file every ``interval`` seconds and reloads when something was saved, added or deleted.

Reload builds a complete new index and swaps it in atomically; searches never see a half-built state.
A file that became malformed is dropped with a logged issue while everything else keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.kb.article import kb_files

if TYPE_CHECKING:
    from bot.kb.search import KnowledgeBase

logger = logging.getLogger(__name__)

Stamp = dict[Path, tuple[int, int]]


def snapshot(root: Path, extra: tuple[Path, ...] = ()) -> Stamp:
    out: Stamp = {}
    for path in (*kb_files(root), *extra):
        try:
            st = path.stat()
        except OSError:
            continue
        out[path] = (st.st_mtime_ns, st.st_size)
    return out


class KnowledgeBaseWatcher:
    """Polls ``root``; on change either reloads ``kb`` in place (``kb.watch()``) or loads a new
    :class:`KnowledgeBase` and hands it to ``on_reload``.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        root: Path,
        on_reload: Callable[[KnowledgeBase], None] | None,
        interval: float = 0.5,
        *,
        matrix_path: Path | None = None,
        kb: KnowledgeBase | None = None,
    ) -> None:
        if on_reload is None and kb is None:
            raise ValueError("give on_reload or kb")
        self.root = Path(root)
        self.on_reload = on_reload
        self.interval = interval
        self.matrix_path = matrix_path
        self.kb = kb
        self.reloads = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: Stamp = {}

    def _extra(self) -> tuple[Path, ...]:
        return (self.matrix_path,) if self.matrix_path is not None else ()

    def start(self) -> KnowledgeBaseWatcher:
        if self._thread is not None:
            return self
        self._last = snapshot(self.root, self._extra())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kb-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> KnowledgeBaseWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self) -> bool:
        """Poll once; reload when something changed. Returns whether it reloaded."""
        current = snapshot(self.root, self._extra())
        if current == self._last:
            return False
        self._last = current
        self._reload()
        return True

    def _reload(self) -> None:
        if self.kb is not None:
            self.kb.reload()
        if self.on_reload is not None:
            from bot.kb.search import KnowledgeBase

            new = self.kb if self.kb is not None else KnowledgeBase.load(self.root, self.matrix_path, wait_trained=False)
            self.on_reload(new)
        self.reloads += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # keep watching: the old index keeps serving
                logger.exception("kb reload failed; still serving the previous index")
