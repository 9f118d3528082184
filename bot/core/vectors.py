"""The knowledge base's own vectors, computed when the knowledge changes and shipped beside it.

The semantic index compares each message with every topic phrasing, off-topic
example and risk exemplar. Their vectors depend only on the knowledge base and
the model, so they are computed when the knowledge changes (`lotsen kontrollera`,
`lotsen initiera`, `/ladda_om`, `make vectors`) and written to
`<knowledge>/vectors/<model>.npz`, which the repository and the wheel carry.
A start then encodes nothing it has not seen, and only changed phrasings are
re-encoded. The file holds exactly the current knowledge base's texts, keyed by
a hash of each (`text_key`), so a stale vector is never used.

The same keys serve the cache of vectors the engine computed at run time for what the shipped
file lacks (`EmbeddingCache`, in `LOTSEN_CACHE_DIR`). User messages are never written to either.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.core.encoder import DIM, MODEL_KEY, Encoder, prepare
from bot.knowledge.base import KnowledgeBase

_LOGGER = logging.getLogger(__name__)


VECTORS_DIR = "vectors"  # beside the knowledge base: <knowledge>/vectors/<MODEL_KEY>.npz


def shipped_vectors(knowledge_dir: Path) -> Path:
    """Where the knowledge base's own vectors are shipped: beside its YAML files, one file per model."""
    return knowledge_dir / VECTORS_DIR / f"{MODEL_KEY}.npz"


def text_key(text: str) -> str:
    """The key of a text's vector: a hash of what the engine sees, so a changed text never gets a stale vector."""
    return hashlib.sha256(prepare(text).encode()).hexdigest()[:32]


def read_vectors(path: Path | None) -> dict[str, np.ndarray]:
    """The vectors of a vectors file by key; empty when there is none or it cannot be read (it is then rebuilt)."""
    if path is None or not path.exists():
        return {}
    try:
        with np.load(path) as data:
            keys, matrix = data["keys"], data["vectors"]
        if matrix.ndim != 2 or matrix.shape[1] != DIM or len(keys) != len(matrix):
            raise ValueError("shape")
        return {str(k): matrix[i] for i, k in enumerate(keys)}
    except (OSError, ValueError, KeyError) as exc:
        _LOGGER.warning("Vektorfilen %s kunde inte läsas (%s); den byggs om", path, type(exc).__name__)
        return {}


def write_vectors(path: Path, vectors: Mapping[str, np.ndarray]) -> None:
    """Writes a vectors file atomically (keys sorted, so the same vectors give the same file); raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    keys = sorted(vectors)
    matrix = np.stack([vectors[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.array(keys, dtype="U32"), vectors=matrix.astype(np.float32))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class EmbeddingCache:
    """Knowledge-base embeddings: the vectors shipped beside the knowledge, then a cache on disk.

    Both are keyed by a hash of each text (`text_key`) in files named by the model,
    so a vector of another text or another model is never used. The shipped file
    (`shipped_vectors`) is only read here; what it lacks (a curator's new phrasing,
    the learned overlay) is encoded once and kept in the cache directory.
    User messages are never written to either.
    """

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / f"embeddings-{MODEL_KEY}.npz" if directory else None
        self._vectors: dict[str, np.ndarray] = {}
        self._shipped: dict[Path, dict[str, np.ndarray]] = {}
        self._loaded = False

    key = staticmethod(text_key)

    def embed(self, texts: Sequence[str], encoder: Encoder, shipped: Path | None = None) -> np.ndarray | None:
        """Vectors for every text, encoding only those neither shipped nor cached; None when the engine fails."""
        if not self._loaded:
            self._loaded = True
            self._vectors = read_vectors(self.path)
        if shipped is not None and shipped not in self._shipped:
            self._shipped[shipped] = read_vectors(shipped)
        known = self._shipped.get(shipped, {}) if shipped is not None else {}
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in known and k not in self._vectors))
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            fresh = encoder.embed([by_key[k] for k in missing])
            if fresh is None:
                return None
            self._vectors.update(zip(missing, fresh, strict=True))
            self._save()
        if not keys:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([known[k] if k in known else self._vectors[k] for k in keys])

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            write_vectors(self.path, self._vectors)
        except OSError as exc:
            _LOGGER.warning("Inbäddningscachen %s kunde inte sparas (%s)", self.path, type(exc).__name__)


@dataclass(frozen=True)
class Shipped:
    """What `ship_vectors` did: the file, how many vectors it holds and how many it gained."""

    path: Path
    vectors: int
    added: int  # vectors the file did not hold before
    written: bool  # False when the file already held exactly these vectors


def semantic_texts(kb: KnowledgeBase) -> tuple[dict[str, list[str]], list[str], dict[str, list[str]], list[str]]:
    """The texts the semantic index is built from: topic names and phrasings, off-topic examples, acute and calm exemplars."""
    topics = {t.id: [t.name, *t.phrasings] for t in kb.topics.values()}
    offtopic = [o for o in kb.smalltalk.offtopic if len(o.split()) >= 3] or list(kb.smalltalk.offtopic)
    return topics, offtopic, {str(d): list(t) for d, t in kb.risk.acute.items()}, list(kb.risk.calm)


def all_texts(kb: KnowledgeBase) -> list[str]:
    """Every text of `semantic_texts`, once each."""
    topics, offtopic, acute, calm = semantic_texts(kb)
    texts = [t for group in topics.values() for t in group] + offtopic + calm
    texts += [t for group in acute.values() for t in group]
    return list(dict.fromkeys(texts))


def shipped_texts(kb: KnowledgeBase) -> list[str]:
    """The curated texts whose vectors ship beside the knowledge: `all_texts` without what the curation
    loop learned (a learned question is a staff member's; its vector stays in the local cache)."""
    return [t for t in all_texts(kb) if t not in kb.learned_texts]


def missing_vectors(kb: KnowledgeBase, target: Path | None = None) -> int:
    """How many of the knowledge base's curated texts the shipped file lacks (0: it is complete)."""
    have = read_vectors(target or shipped_vectors(kb.source))
    return sum(1 for t in shipped_texts(kb) if text_key(t) not in have)


def ship_vectors(kb: KnowledgeBase, known: Mapping[str, np.ndarray], target: Path | None = None) -> Shipped:
    """Writes the vectors of exactly this knowledge base beside it (or to `target`), from its built index.

    `known` (`SemanticIndex.known`) already holds every text's vector (read from the shipped
    file or the cache, or encoded while the index was built), so nothing is encoded here. Raises
    OSError when the file cannot be written (a read-only knowledge directory: the
    cache then serves).
    """
    path = target or shipped_vectors(kb.source)
    vectors = {k: known[k] for k in map(text_key, shipped_texts(kb))}
    before = read_vectors(path)
    if before.keys() == vectors.keys():
        return Shipped(path, len(vectors), 0, written=False)
    write_vectors(path, vectors)
    return Shipped(path, len(vectors), len(vectors.keys() - before.keys()), written=True)


def ship_if_writable(kb: KnowledgeBase, known: Mapping[str, np.ndarray] | None) -> Shipped | None:
    """`ship_vectors` where the knowledge directory may be written; None when it may not (or no vectors: words only).

    A region's read-only knowledge directory is normal (the cache then serves), so
    that is logged, not raised.
    """
    if known is None:
        return None
    try:
        return ship_vectors(kb, known)
    except OSError as exc:
        _LOGGER.info("Vektorerna sparades inte bredvid kunskapsbasen (%s); cachen används", type(exc).__name__)
        return None
