"""The search engine imports no framework: searching the knowledge base loads neither Rasa nor
TensorFlow (thinc would import TensorFlow just to probe for it: seconds and hundreds of MB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from bot.kb.search import KnowledgeBase
kb = KnowledgeBase.load(__import__("pathlib").Path(sys.argv[1]))
assert kb.search("I forgot my password", "en").hits
loaded = sorted(m for m in ("tensorflow", "rasa", "rasa_sdk", "torch") if m in sys.modules)
print("loaded:", ",".join(loaded))
"""


def test_searching_loads_no_framework(kb_root: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(kb_root)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "loaded: \n" in out
