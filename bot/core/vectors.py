"""The knowledge base's own vectors, computed when the knowledge changes and shipped beside it.

The semantic index compares each message with every topic phrasing, off-topic
example and risk exemplar. Their vectors depend only on the knowledge base and
the model, so they are computed when the knowledge changes (`lotsen validate`,
`lotsen init`, `/ladda_om`, `make vectors`) and written to
`<knowledge>/vectors/<model>.npz`, which the repository and the wheel carry.
A start then encodes nothing it has not seen, and only changed phrasings are
re-encoded. The file holds exactly the current knowledge base's texts, keyed by
a hash of each (`bot.core.semantic.text_key`), so a stale vector is never used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.core.semantic import SemanticIndex, read_vectors, shipped_vectors, text_key, write_vectors
from bot.knowledge.base import KnowledgeBase

_LOGGER = logging.getLogger(__name__)


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


def missing_vectors(kb: KnowledgeBase, target: Path | None = None) -> int:
    """How many of the knowledge base's texts the shipped file lacks (0: it is complete)."""
    have = read_vectors(target or shipped_vectors(kb.source))
    return sum(1 for t in all_texts(kb) if text_key(t) not in have)


def ship_vectors(kb: KnowledgeBase, index: SemanticIndex, target: Path | None = None) -> Shipped:
    """Writes the vectors of exactly this knowledge base beside it (or to `target`), from its built index.

    The index already holds every text's vector (read from the shipped file or the
    cache, or encoded while it was built), so nothing is encoded here. Raises
    OSError when the file cannot be written (a read-only knowledge directory: the
    cache then serves).
    """
    path = target or shipped_vectors(kb.source)
    vectors = {k: index.known[k] for k in map(text_key, all_texts(kb))}
    before = read_vectors(path)
    if before.keys() == vectors.keys():
        return Shipped(path, len(vectors), 0, written=False)
    write_vectors(path, vectors)
    return Shipped(path, len(vectors), len(vectors.keys() - before.keys()), written=True)


def ship_if_writable(kb: KnowledgeBase, index: SemanticIndex | None) -> Shipped | None:
    """`ship_vectors` where the knowledge directory may be written; None when it may not (or there is no index).

    A region's read-only knowledge directory is normal (the cache then serves), so
    that is logged, not raised.
    """
    if index is None:
        return None
    try:
        return ship_vectors(kb, index)
    except OSError as exc:
        _LOGGER.info("Vektorerna sparades inte bredvid kunskapsbasen (%s); cachen används", type(exc).__name__)
        return None
