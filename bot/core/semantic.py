"""The semantic index: the knowledge base as vectors, and what the router asks of them.

The router compares a message with the knowledge base's example phrasings,
off-topic examples and risk exemplars by meaning rather than by words, so that
paraphrases, described behaviour, unaccented text and English land where the
Swedish wordings do. `SemanticIndex` holds those vectors (read by
`bot.core.vectors`, encoded by `bot.core.encoder`) and three small linear models
fitted on them at build: topic, danger and acute-versus-calm.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from bot.core.encoder import DIM, Encoder
from bot.core.vectors import EmbeddingCache, text_key

RISK_RIDGE = 1.0  # regularisation of the risk model (`fit_risk`)


CLASS_RIDGE = 1.0  # regularisation of the topic and danger models (`fit_classes`)


class SemanticIndex:
    """The knowledge base as vectors: topic phrasings, off-topic examples and risk exemplars.

    Built once per knowledge base (`build` returns None when the engine is
    unavailable: the router then routes on words alone). All similarities are
    cosines between unit vectors; the message is encoded once per route.
    """

    TOP_K = 2  # a topic's similarity is the mean of its best TOP_K phrasings

    def __init__(self, encoder: Encoder, topics: dict[str, np.ndarray], offtopic: np.ndarray,
                 acute: dict[str, np.ndarray], calm: np.ndarray, calm_topics: Collection[str] = (),
                 topic_dangers: Mapping[str, str] | None = None) -> None:
        self.encoder = encoder
        self._known: dict[str, np.ndarray] = {}  # the knowledge base's own texts, by text_key
        self.topic_ids = list(topics)
        self._topic_vectors = [topics[t] for t in self.topic_ids]
        self._offtopic = offtopic
        about = topic_dangers or {}
        self._danger_names = list(acute)
        self._danger_weights = fit_classes([  # each danger: its acute exemplars and the phrasings of the topics about it
            np.vstack([acute[d], *(topics[t] for t, td in about.items() if td == d and t in topics)])
            for d in self._danger_names
        ])
        self._topic_weights = fit_classes(self._topic_vectors)
        self._risk_weights = fit_risk(
            np.vstack([np.zeros((0, DIM), np.float32), *acute.values()]),
            np.vstack([calm, offtopic, *(topics[t] for t in calm_topics if t in topics)]),
        )

    @classmethod
    def build(cls, encoder: Encoder, cache: EmbeddingCache, topics: Mapping[str, Sequence[str]],
              offtopic: Sequence[str], acute: Mapping[str, Sequence[str]], calm: Sequence[str],
              calm_topics: Collection[str] = (), topic_dangers: Mapping[str, str] | None = None,
              shipped: Path | None = None) -> SemanticIndex | None:
        """Encodes (or reads from the shipped vectors or the cache) every text; None when the engine fails.

        `calm_topics` are the topics whose phrasings are never an emergency: with the
        calm exemplars and the off-topic examples they teach the risk model what is not acute.
        `topic_dangers` maps a topic to the danger its phrasings speak of (see `danger`).
        """
        groups: list[tuple[str, str, Sequence[str]]] = [("topic", t, texts) for t, texts in topics.items()]
        groups += [("off", "", offtopic), ("calm", "", calm)] + [("acute", d, texts) for d, texts in acute.items()]
        flat = [text for _, _, texts in groups for text in texts]
        matrix = cache.embed(flat, encoder, shipped)
        if matrix is None:
            return None
        parts: dict[tuple[str, str], np.ndarray] = {}
        start = 0
        for kind, name, texts in groups:
            parts[(kind, name)] = matrix[start : start + len(texts)]
            start += len(texts)
        index = cls(
            encoder,
            {t: parts[("topic", t)] for t in topics},
            parts[("off", "")],
            {d: parts[("acute", d)] for d in acute},
            parts[("calm", "")],
            calm_topics,
            topic_dangers,
        )
        index._known = dict(zip(map(text_key, flat), matrix, strict=True))
        return index

    @property
    def known(self) -> Mapping[str, np.ndarray]:
        """The vector of every text the index was built from, by `text_key`."""
        return self._known

    def encode(self, texts: Sequence[str]) -> np.ndarray | None:
        """The messages' vectors, or None when the engine cannot answer now.

        A text the knowledge base itself holds (a phrasing sent as a question) takes its
        known vector: the engine would give exactly that one.
        """
        keys = [text_key(t) for t in texts]
        unknown = [t for t, k in zip(texts, keys, strict=True) if k not in self._known]
        fresh = self.encoder.embed(unknown) if unknown else np.zeros((0, DIM), np.float32)
        if fresh is None:
            return None
        rows = iter(fresh)
        return np.stack([self._known[k] if k in self._known else next(rows) for k in keys])

    def topic_similarity(self, q: np.ndarray) -> dict[str, float]:
        """Per topic: the mean cosine of its TOP_K phrasings nearest to the message."""
        out = {}
        for tid, vectors in zip(self.topic_ids, self._topic_vectors, strict=True):
            if len(vectors) == 0:
                continue
            sims = vectors @ q
            k = min(self.TOP_K, len(sims))
            out[tid] = float(np.partition(sims, -k)[-k:].mean())
        return out

    def topic_scores(self, q: np.ndarray) -> dict[str, float]:
        """Per topic: the topic model's output (see `fit_classes`), about +1 for its own phrasings."""
        out = np.r_[q, np.float32(1.0)] @ self._topic_weights
        return {tid: float(out[i]) for i, tid in enumerate(self.topic_ids)}

    def nearest_phrasing(self, q: np.ndarray) -> tuple[str | None, float]:
        """The topic of the single phrasing nearest to the message, and its cosine."""
        best: tuple[str | None, float] = (None, -1.0)
        for tid, vectors in zip(self.topic_ids, self._topic_vectors, strict=True):
            if len(vectors):
                sim = float((vectors @ q).max())
                if sim > best[1]:
                    best = (tid, sim)
        return best

    def offtopic_similarity(self, q: np.ndarray) -> float:
        """Cosine of the nearest off-topic example."""
        return float((self._offtopic @ q).max()) if len(self._offtopic) else 0.0

    def danger(self, q: np.ndarray) -> str | None:
        """The danger the message speaks of, by the danger model (see `fit_classes`).

        Each danger's class is its acute exemplars and the phrasings of the topics about it.
        """
        if not self._danger_names:
            return None
        return self._danger_names[int(np.argmax(np.r_[q, np.float32(1.0)] @ self._danger_weights))]

    def risk(self, q: np.ndarray) -> float:
        """How acute the message reads: the risk model's output (see `fit_risk`).

        About +1 for a text like the acute exemplars, about -1 for one like the calm
        exemplars, the ordinary topic phrasings and the off-topic examples.
        """
        return float(q @ self._risk_weights[:-1] + self._risk_weights[-1])


def fit_risk(acute: np.ndarray, calm: np.ndarray, ridge: float = RISK_RIDGE) -> np.ndarray:
    """A linear acute-versus-calm model over sentence vectors: weights, then the bias.

    Ridge regression onto +1 (acute) and -1 (calm), each class weighted to the
    same total, solved in closed form: deterministic and a few milliseconds for
    a few thousand exemplars. Unlike the nearest exemplars, it learns which
    directions of meaning separate danger from calm across all of them.
    """
    if len(acute) == 0 or len(calm) == 0:
        return np.r_[np.zeros(DIM, np.float32), np.float32(-1.0)]
    y = np.r_[np.ones(len(acute)), -np.ones(len(calm))]
    weight = np.r_[np.full(len(acute), len(calm) / len(acute)), np.ones(len(calm))]
    return _ridge(np.vstack([acute, calm]), y, ridge, weight)


def fit_classes(groups: Sequence[np.ndarray], ridge: float = CLASS_RIDGE) -> np.ndarray:
    """A linear one-versus-rest model over sentence vectors: (DIM + 1) × len(groups).

    Ridge regression of every vector onto +1 for its own group and -1 for the
    others, in closed form. Where the nearest examples follow the wording of a
    few of them, this learns the directions of meaning that set a group (a
    topic, a danger) apart from its neighbours across all of them.
    """
    rows = [v for v in groups if len(v)]
    if not rows:
        return np.zeros((DIM + 1, len(groups)), np.float32)
    y = -np.ones((sum(len(v) for v in rows), len(groups)))
    start = 0
    for g, vectors in enumerate(groups):
        y[start : start + len(vectors), g] = 1.0
        start += len(vectors)
    return _ridge(np.vstack(rows), y, ridge)


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float, weight: np.ndarray | None = None) -> np.ndarray:
    """Weighted ridge regression of `y` on `x` with a bias column, in closed form: weights, then the bias."""
    x = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    w = np.ones(len(x)) if weight is None else weight
    gram = x.T @ (x * w[:, None]) + ridge * np.eye(x.shape[1])
    rhs = x.T @ (w[:, None] * y if y.ndim == 2 else w * y)
    return np.linalg.solve(gram, rhs).astype(np.float32)
