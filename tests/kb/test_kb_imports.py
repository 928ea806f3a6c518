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


ACTIONS_SCRIPT = """
import importlib, pkgutil, sys
import actions
for module in pkgutil.iter_modules(actions.__path__):
    importlib.import_module(f"actions.{module.name}")
loaded = sorted(m for m in ("tensorflow", "rasa", "spacy", "thinc", "torch", "sklearn") if m in sys.modules)
print("loaded:", ",".join(loaded))
"""


def test_importing_the_action_server_loads_no_framework() -> None:
    """Every module of the action server imports without spaCy, TensorFlow or Rasa (a regex helper once
    pulled spaCy and, through thinc's probe, TensorFlow into it: 0.36 s -> 4.2 s per start); spaCy comes
    later, when the knowledge base or an entity finder is built, without TensorFlow."""
    out = subprocess.run([sys.executable, "-c", ACTIONS_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "loaded: \n" in out, out
