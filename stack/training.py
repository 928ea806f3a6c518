"""Train the Rasa model only when its inputs changed.

The model's name carries a fingerprint of everything that shapes it (config.yml, domain.yml, data/ and
the custom NLU components in rasa_ext/), so "is there a model for these inputs" is one file check.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

# bot/lang.py too: the language detector persists counts keyed by its feature function; bot/lemmas.py and
# bot/entities.py: the tokenizer's lemmas and the entity ruler's patterns; bot/kb/encoder.py:
# the sentence embeddings the intent classifier is trained on
MODEL_INPUTS = ("config.yml", "domain.yml", "data", "rasa_ext", "bot/lang.py", "bot/lemmas.py", "bot/entities.py",
                "bot/kb/encoder.py")
# the Rasa server's runtime parts in rasa_ext/: channels, stores, patches of the running server. Training
# never runs them, so a change to them needs no new model.
RUNTIME_ONLY = frozenset({
    "rest_channel.py", "socketio_channel.py", "tracker_store.py", "lock_store.py", "degrade.py", "serve.py",
    "performance.py",
})


def fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".pyc" or "__pycache__" in file.parts or not file.exists():
                continue
            if file.parent.name == "rasa_ext" and file.name in RUNTIME_ONLY:
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path, models_dir: Path) -> Path:
    return models_dir / f"frontdoor-{fingerprint(root)}.tar.gz"


def ensure_model(root: Path, models_dir: Path, *, force: bool = False, log_file: Path | None = None) -> Path:
    """Return the model for the current inputs, training it first when it does not exist yet."""
    target = model_path(root, models_dir)
    if target.exists() and not force:
        logger.info("model is up to date: %s", target.relative_to(root) if target.is_relative_to(root) else target)
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "rasa", "train",
        "--config", str(root / "config.yml"),
        "--domain", str(root / "domain.yml"),
        "--data", str(root / "data"),
        "--out", str(models_dir),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
        "--force",
    ]
    logger.info("training the Rasa model (inputs changed); this takes a few minutes the first time")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as log:
            result = subprocess.run(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    else:
        result = subprocess.run(command, cwd=root, env=env, check=False)
    if result.returncode != 0 or not target.exists():
        where = f"; see {log_file}" if log_file else ""
        raise RuntimeError(f"rasa train failed with exit code {result.returncode}{where}")
    for old in models_dir.glob("frontdoor-*.tar.gz"):
        if old != target:
            old.unlink()
    return target
