"""Hot reload: saved, added, deleted and malformed articles take effect within 2 s, no restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bot.kb.search import KnowledgeBase
from bot.kb.watch import KnowledgeBaseWatcher

from kb_fixtures import article_text

QUESTIONS = ["How do I redeem a gift card?", "gift card code does not work", "use a voucher",
             "redeem voucher code", "where do I enter my gift code", "gift card balance"]


def _until(condition: Callable[[], bool], timeout: float = 2.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def _top(kb: KnowledgeBase, query: str) -> str | None:
    res = kb.search(query, "en")
    return None if res.abstained else res.hits[0].article.id


def test_add_edit_malformed_delete_within_two_seconds(kb_root: Path, matrix_path: Path) -> None:
    kb = KnowledgeBase.load(kb_root, matrix_path)
    path = kb_root / "en" / "gift-card.md"
    assert _top(kb, "redeem my gift card") is None
    with kb.watch(interval=0.1):
        path.write_text(article_text("gift-card", "en", "Gift cards", QUESTIONS, "Enter the code.",
                                     "subscription"), encoding="utf-8")
        _until(lambda: _top(kb, "redeem my gift card") == "gift-card")

        path.write_text(article_text("gift-card", "en", "Gift cards and vouchers", QUESTIONS,
                                     "Enter the code.", "subscription"), encoding="utf-8")
        _until(lambda: kb.get("gift-card", "en") is not None
               and kb.get("gift-card", "en").title == "Gift cards and vouchers")  # type: ignore[union-attr]

        path.write_text("---\nid: gift-card\ntitle: [unclosed\n---\nBody\n", encoding="utf-8")
        _until(lambda: kb.get("gift-card", "en") is None)
        assert any(i.path == path and i.line == 3 for i in kb.issues)
        assert _top(kb, "charged twice") == "billing-double-charge"  # the rest keeps serving

        path.write_text(article_text("gift-card", "en", "Gift cards", QUESTIONS, "Enter the code.",
                                     "subscription"), encoding="utf-8")
        _until(lambda: _top(kb, "redeem my gift card") == "gift-card")
        assert kb.issues == ()

        path.unlink()
        _until(lambda: kb.get("gift-card", "en") is None)
        assert _top(kb, "redeem my gift card") is None


def test_watcher_with_callback_hands_over_a_new_knowledge_base(kb_root: Path, matrix_path: Path) -> None:
    received: list[KnowledgeBase] = []
    watcher = KnowledgeBaseWatcher(kb_root, received.append, interval=0.1, matrix_path=matrix_path)
    with watcher:
        assert not watcher.check()  # nothing changed since start
        (kb_root / "en" / "account-password-reset.md").unlink()
        _until(lambda: bool(received))
    assert received[-1].get("account-password-reset", "en") is None
    assert received[-1].get("account-password-reset", "de") is not None
    assert watcher.reloads >= 1


def test_searches_during_reloads_always_see_a_complete_index(kb_root: Path, matrix_path: Path) -> None:
    import threading

    kb = KnowledgeBase.load(kb_root, matrix_path)
    path = kb_root / "en" / "gift-card.md"
    errors: list[BaseException] = []
    answers: set[str | None] = set()
    stop = threading.Event()

    def ask() -> None:
        try:
            while not stop.is_set():
                answers.add(_top(kb, "charged twice"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=ask)
    thread.start()
    try:
        for i in range(8):
            path.write_text(article_text("gift-card", "en", f"Gift cards {i}", QUESTIONS, "Enter the code.",
                                         "subscription"), encoding="utf-8")
            kb.reload()
    finally:
        stop.set()
        thread.join()
    assert errors == [] and answers == {"billing-double-charge"}
    assert kb.get("gift-card", "en").title == "Gift cards 7"  # type: ignore[union-attr]


def test_a_reload_rebuilds_only_the_languages_that_changed(kb_root: Path, matrix_path: Path) -> None:
    kb = KnowledgeBase.load(kb_root, matrix_path)
    before = dict(kb._state.indexes)
    path = kb_root / "en" / "subscription-pause.md"
    path.write_text(path.read_text(encoding="utf-8").replace("questions:\n", "questions:\n  - go on holiday\n"),
                    encoding="utf-8")
    kb.reload()
    after = kb._state.indexes
    assert after["de"] is before["de"] and after["da"] is before["da"]
    assert after["en"] is not before["en"]
    best = kb.search("go on holiday", "en").best
    assert best is not None and best.article.id == "subscription-pause"


def test_a_huge_article_is_reported_and_never_stops_the_rest(kb_root: Path, matrix_path: Path) -> None:
    kb = KnowledgeBase.load(kb_root, matrix_path)
    huge = kb_root / "en" / "huge.md"
    gift = kb_root / "en" / "gift-card.md"
    with kb.watch(interval=0.1):
        huge.write_text(article_text("huge", "en", "Huge", QUESTIONS, "word " * 1_000_000, "subscription"),
                        encoding="utf-8")  # 5 MB
        _until(lambda: any(i.path == huge for i in kb.issues), timeout=5.0)
        issue = next(i for i in kb.issues if i.path == huge)
        assert issue.line == 1 and "at most 200,000" in issue.message and issue.severity == "error"
        assert _top(kb, "charged twice") == "billing-double-charge"  # the rest keeps serving
        # and later changes still go live
        gift.write_text(article_text("gift-card", "en", "Gift cards", QUESTIONS, "Enter the code.",
                                     "subscription"), encoding="utf-8")
        _until(lambda: _top(kb, "redeem my gift card") == "gift-card")


def test_kb_check_works_from_any_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "stack.cli", "kb", "check"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "articles OK" in done.stdout and "0 errors" in done.stdout
