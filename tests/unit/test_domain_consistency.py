"""Every action, form and `utter_*` the Python code names exists in domain.yml, and vice versa."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import yaml
from rasa_sdk import Action

import actions

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
UTTER = re.compile(r"""["'](utter_[a-z0-9_]+)["']""")


def action_classes() -> list[type[Action]]:
    import importlib
    import pkgutil

    found: list[type[Action]] = []
    for module in pkgutil.iter_modules(actions.__path__):
        loaded = importlib.import_module(f"actions.{module.name}")
        for _name, obj in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(obj, Action) and obj.__module__ == loaded.__name__ and not inspect.isabstract(obj):
                found.append(obj)
    return found


def test_every_action_class_is_declared_in_the_domain() -> None:
    declared = set(DOMAIN.get("actions", [])) | set((DOMAIN.get("forms") or {}))
    names = {cls().name() for cls in action_classes()}
    assert names, "no actions found"
    missing = {name for name in names if name not in declared and not name.startswith("validate_")}
    assert not missing, f"actions not in domain.yml: {sorted(missing)}"


def test_every_declared_custom_action_has_an_implementation() -> None:
    names = {cls().name() for cls in action_classes()}
    custom = {name for name in DOMAIN.get("actions", []) if name.startswith("action_")}
    assert custom - names == set()


def test_every_response_named_in_python_exists() -> None:
    used: set[str] = set()
    for path in (ROOT / "actions").glob("*.py"):
        used |= set(UTTER.findall(path.read_text()))
    missing = used - set(DOMAIN["responses"])
    assert not missing, f"responses used in actions/ but missing in domain.yml: {sorted(missing)}"


def test_every_response_speaks_german_english_and_danish() -> None:
    for name, variations in DOMAIN["responses"].items():
        langs = set()
        for variation in variations:
            conditions = variation.get("condition") or []
            lang = next((c["value"] for c in conditions if c.get("name") == "language"), "en")
            langs.add(lang)
        assert {"de", "en", "da"} <= langs, f"{name} lacks a language: has {sorted(langs)}"


_NO_WORK_PROBE = r"""
import json, os, sys, threading
root = os.path.realpath(sys.argv[1])
seen = []

def audit(event, args):  # every open(), connect() and new thread of the interpreter raises an audit event
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(root) and not path.endswith((".py", ".so")) and "/.venv/" not in path \
                and "/__pycache__/" not in path and not os.path.isdir(path):
            seen.append(f"opened {os.path.relpath(path, root)}")
    elif event == "socket.connect":
        seen.append(f"connected to {args[1]}")


def watched_start(self, _start=threading.Thread.start):  # threads raise no audit event in 3.10
    seen.append(f"started thread {self.name}")
    return _start(self)

sys.addaudithook(audit)
threading.Thread.start = watched_start
sys.path.insert(0, root)
import importlib, inspect, pkgutil
from rasa_sdk import Action
import actions
made = []
for module in pkgutil.iter_modules(actions.__path__):
    if module.name == "__main__":
        continue
    loaded = importlib.import_module(f"actions.{module.name}")
    for _name, obj in inspect.getmembers(loaded, inspect.isclass):
        if issubclass(obj, Action) and obj.__module__ == loaded.__name__ and not inspect.isabstract(obj):
            obj()
            made.append(obj.__name__)
print(json.dumps({"seen": seen, "made": made}))
"""


def test_actions_do_no_work_at_import_or_construction(tmp_path: Path) -> None:
    """Importing every action module and constructing every action (what rasa_sdk does at start) opens
    no project file (KB, matrix, data), no connection and no thread: that work waits for the first call
    or for the KB loader the server starts itself. The probe watches the interpreter's audit events
    (open, socket.connect) and Thread.start in a fresh process with no configuration."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    probe = subprocess.run([sys.executable, "-c", _NO_WORK_PROBE, str(root)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-2000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert len(result["made"]) >= 10, result  # every action was made, not none
    assert result["seen"] == []


def test_every_failed_form_answer_names_a_response_of_the_domain() -> None:
    """Response names built at run time (``f"utter_invalid_{slot}"``) exist too: every validator of the
    problem form is given an answer it refuses, in each language; rendering a missing response raises."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.prequal import ValidateProblemForm

    form = ValidateProblemForm()
    validators = [name for name in dir(form) if name.startswith("validate_") and name != "validate_problem_form"]
    assert {"validate_order_number", "validate_invoice_number", "validate_error_code"} <= set(validators)
    said = 0
    for lang in ("de", "en", "da"):
        for name in validators:
            tracker = Tracker("conv-1", {"language": lang}, {"text": "?", "intent": {"name": "inform"}},
                              [], False, None, {}, "action_listen")
            dispatcher = CollectingDispatcher()
            result = getattr(form, name)("", dispatcher, tracker, DOMAIN)  # raises KeyError on a missing name
            said += len(dispatcher.messages)
            assert isinstance(result, dict)
    assert said >= 3 * 5  # most validators refuse an empty answer with a message
