"""Routing quality: Lotsen's router against baselines that are given the same knowledge.

    python bench/routing.py [EVAL_FILE] [--json]

EVAL_FILE is a labelled evaluation file (format: shared/eval/README.md); the
default is ../shared/eval/dev.yaml next to the project. Every row is scored by
`bot.evaluation.evaluate`, so the figures are exactly those of `lotsen eval`.

Rows:
- lotsen            the router as shipped (`Router(kb).route`).
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
from zoneinfo import ZoneInfo

from common import PROJECT_ROOT, fail, load_kb, table

DEFAULT_EVAL = PROJECT_ROOT.parent / "shared" / "eval" / "dev.yaml"
# The time `lotsen eval` routes at by default: a weekday within office hours.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
NONE = "none"  # the off-topic class of the classifiers
ROWS = ("lotsen", "rapidfuzz", "bm25", "tfidf-linear", "tfidf-cv-ceiling")
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


def run(eval_file: Path) -> dict:
    from bot.evaluation import Case, Prediction, evaluate, load_cases, router_predictor
    from bot.router import Router

    cases = load_cases(eval_file)
    if not cases:
        fail(f"{eval_file}: the file holds no cases")
    kb = load_kb()
    router = Router(kb)
    ex = examples(kb)

    def profile_municipality(case: Case) -> str | None:
        return kb.find_municipality(case.kommun) if case.kommun else None

    lotsen = router_predictor(router, NOW)

    def baseline(topic_of: Callable[[Case], str | None]) -> Callable[[Case], Prediction]:
        """Topic from `topic_of`; municipality = the profile's; urgent = the topic is urgent."""

        def predict(case: Case) -> Prediction:
            topic = topic_of(case)
            t = kb.topics.get(topic) if topic else None
            return Prediction(
                topic if t else None,
                profile_municipality(case),
                bool(t and t.urgent),
                tuple(t.materials[:3]) if t else (),
            )

        return predict

    fuzzy = NearestPhrasing(ex)
    bm25 = TopicBM25(ex)
    tfidf = TfidfLinear(ex)
    ceiling = cross_validated_topics(cases)
    predictors = {
        "lotsen": lotsen,
        "rapidfuzz": baseline(lambda c: fuzzy(c.text)),
        "bm25": baseline(lambda c: bm25(c.text)),
        "tfidf-linear": baseline(lambda c: tfidf(c.text)),
        "tfidf-cv-ceiling": baseline(lambda c: ceiling[c.id]),
    }
    reports = {name: evaluate(cases, predict) for name, predict in predictors.items()}
    best = max(SAME_KNOWLEDGE, key=lambda n: reports[n].topic_at_1)
    counts = reports["lotsen"].counts
    return {
        "file": str(eval_file),
        "cases": counts["cases"],
        "in_scope": counts["in_scope"],
        "off_topic": counts["off_topic"],
        "urgent": counts["urgent"],
        "knowledge": {"topics": len(kb.topics), "phrasings": len(ex.phrasings), "keywords": len(ex.keywords),
                      "offtopic": len(ex.offtopic)},
        "rows": {name: r.as_dict() for name, r in reports.items()},
        "best_baseline": best,
        "margin_points": round(100 * (reports["lotsen"].topic_at_1 - reports[best].topic_at_1), 1),
        "settings": {
            "rapidfuzz_scorer": fuzzy.scorer_name,
            "rapidfuzz_cutoff": round(fuzzy.cutoff, 1),
            "bm25_threshold": round(bm25.threshold, 3),
            "cv_folds": min(CV_FOLDS, max(Counter(c.topics[0] if c.topics else NONE for c in cases).values())),
        },
    }


def render(result: dict) -> str:
    rows = [[name, *(result["rows"][name][key] for key, _ in COLUMNS)] for name in ROWS]
    s = result["settings"]
    k = result["knowledge"]
    margin = result["margin_points"]
    lines = [
        f"Routing quality on {result['file']}: {result['cases']} cases "
        f"({result['in_scope']} in scope, {result['off_topic']} off-topic, {result['urgent']} urgent)",
        f"Knowledge given to every row: {k['topics']} topics, {k['phrasings']} phrasings, "
        f"{k['keywords']} keywords, {k['offtopic']} off-topic cues",
        "",
        table(["router", *(label for _, label in COLUMNS)], rows),
        "",
        "Baselines have no urgency or municipality logic of their own: each gets the profile municipality",
        "(the case's kommun) and urgent = the predicted topic is an urgent topic (knowledge/topics/*.yaml).",
        f"rapidfuzz: {s['rapidfuzz_scorer']}, cutoff {s['rapidfuzz_cutoff']}; bm25: threshold {s['bm25_threshold']}"
        " — both chosen on the knowledge base alone (held-out phrasings vs. off-topic cues), not on the evaluation file.",
        f"tfidf-cv-ceiling is trained on the evaluation file itself ({s['cv_folds']}-fold stratified"
        " cross-validation): a ceiling, not a competitor.",
        "",
        f"Margin: lotsen topic@1 − best same-knowledge baseline ({result['best_baseline']}) = "
        f"{margin:+.1f} points (aim ≥ {MARGIN_AIM:.0f}: {'met' if margin >= MARGIN_AIM else 'NOT met'})",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="bench/routing.py")
    parser.add_argument("file", nargs="?", default=str(DEFAULT_EVAL),
                        help="evaluation YAML (default: ../shared/eval/dev.yaml next to the project)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    eval_file = Path(args.file)
    if not eval_file.is_file():
        fail(f"evaluation file not found: {eval_file} — pass the path of a labelled YAML file "
             "(format: shared/eval/README.md)")
    from bot.errors import LotsenError

    try:
        result = run(eval_file)
    except LotsenError as exc:
        fail(str(exc))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
