"""Measuring routing against a labelled evaluation file (format: shared/eval/README.md).

Each case has a text, the municipality chosen in the bot, and the expected
topic (one id, a list of acceptable ids, or null for off-topic), municipality,
urgency and optionally a material. The metrics are the ones `lotsen utvardera`
reports; `bench/routing.py` uses the same scoring for its baselines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.errors import LotsenError

if TYPE_CHECKING:
    from bot.core.router import Router


@dataclass(frozen=True)
class Case:
    """One labelled question."""

    id: str
    text: str
    kommun: str | None
    topics: tuple[str, ...]  # acceptable topic ids; empty = off-topic
    municipality: str | None
    urgent: bool
    material: str | None


@dataclass(frozen=True)
class Prediction:
    """What a router said about one case, reduced to what the metrics need."""

    topic: str | None  # first topic, None = declined
    municipality: str | None
    urgent: bool
    materials: tuple[str, ...] = ()


@dataclass
class Report:
    """The metrics of one run, and the cases it got wrong."""

    n: int = 0
    topic_at_1: float = 0.0
    decline: float = 0.0
    false_decline: float = 0.0
    urgent_recall: float = 0.0
    urgent_precision: float = 0.0
    municipality: float = 0.0
    material_recall: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases": self.n,
            "topic_at_1": round(self.topic_at_1, 3),
            "offtopic_decline": round(self.decline, 3),
            "false_decline": round(self.false_decline, 3),
            "urgent_recall": round(self.urgent_recall, 3),
            "urgent_precision": round(self.urgent_precision, 3),
            "municipality": round(self.municipality, 3),
            "material_recall": round(self.material_recall, 3),
            "counts": self.counts,
        }


METRIC_LABELS = (
    ("topic_at_1", "topic@1 (in-scope)", "in_scope"),
    ("offtopic_decline", "off-topic decline", "off_topic"),
    ("false_decline", "false decline (in-scope)", "in_scope"),
    ("urgent_recall", "urgent recall", "urgent"),
    ("urgent_precision", "urgent precision", "predicted_urgent"),
    ("municipality", "municipality", "cases"),
    ("material_recall", "material recall", "with_material"),
)


def router_predictor(router: Router, now: datetime | None = None) -> Callable[[Case], Prediction]:
    """Predictions of Lotsen's router, with the case's profile municipality as the user's."""

    def predict(case: Case) -> Prediction:
        municipality = router.kb.find_municipality(case.kommun) if case.kommun else None
        a = router.route(case.text, municipality, now)
        return Prediction(a.top_topic, a.municipality, a.urgent, tuple(m.id for m in a.materials))

    return predict


def load_cases(path: Path) -> list[Case]:
    """Reads an evaluation file; raises LotsenError naming the case that is malformed."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LotsenError(f"{path}: filen finns inte — ange sökvägen till en utvärderingsfil") from None
    except yaml.YAMLError as exc:
        raise LotsenError(f"{path}: YAML-fel: {exc}") from None
    if not isinstance(raw, list):
        raise LotsenError(f"{path}: förväntade en lista med fall — se shared/eval/README.md")
    cases = []
    for i, item in enumerate(raw):
        try:
            expect = item["expect"]
            topic = expect.get("topic")
            topics = tuple(topic) if isinstance(topic, list) else (() if topic is None else (topic,))
            cases.append(
                Case(
                    id=str(item.get("id", i)),
                    text=str(item["text"]),
                    kommun=item.get("kommun"),
                    topics=topics,
                    municipality=expect.get("municipality"),
                    urgent=bool(expect.get("urgent", False)),
                    material=expect.get("material"),
                )
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise LotsenError(f"{path}: fall nr {i + 1} saknar {exc} — varje fall behöver text och expect") from None
    return cases


def _score_case(case: Case, p: Prediction, c: dict[str, int]) -> list[str]:
    """Adds one case to the counts `c`; returns what it got wrong ("topic", "decline", "urgent" …)."""
    problems = []
    if case.topics:
        c["in_scope"] += 1
        if p.topic in case.topics:
            c["topic_hits"] += 1
        else:
            problems.append("topic")
        if p.topic is None:
            c["false_declines"] += 1
    else:
        c["off_topic"] += 1
        if p.topic is None:
            c["declined_off"] += 1
        else:
            problems.append("decline")
    if case.urgent:
        c["urgent"] += 1
        c["urgent_hits"] += p.urgent
    if p.urgent:
        c["predicted_urgent"] += 1
    if p.urgent != case.urgent:
        problems.append("urgent")
    if p.municipality == case.municipality:
        c["municipality_hits"] += 1
    else:
        problems.append("municipality")
    if case.material:
        c["with_material"] += 1
        if case.material in p.materials:
            c["material_hits"] += 1
        else:
            problems.append("material")
    return problems


def _ratio(num: int, den: int, empty: float) -> float:
    return num / den if den else empty


def evaluate(cases: Iterable[Case], predict: Callable[[Case], Prediction]) -> Report:
    """Scores `predict` on the cases and collects the misrouted ones."""
    c = dict.fromkeys(
        ("cases", "in_scope", "topic_hits", "off_topic", "declined_off", "false_declines", "urgent",
         "urgent_hits", "predicted_urgent", "municipality_hits", "with_material", "material_hits"),
        0,
    )  # fmt: skip
    errors: list[dict[str, Any]] = []
    for case in cases:
        p = predict(case)
        c["cases"] += 1
        problems = _score_case(case, p, c)
        if problems:
            errors.append(
                {
                    "id": case.id,
                    "problems": problems,
                    "text": case.text,
                    "expected": {"topic": list(case.topics) or None, "municipality": case.municipality, "urgent": case.urgent, "material": case.material},
                    "got": {"topic": p.topic, "municipality": p.municipality, "urgent": p.urgent, "materials": list(p.materials)},
                }
            )
    return Report(
        n=c["cases"],
        topic_at_1=_ratio(c["topic_hits"], c["in_scope"], 1.0),
        decline=_ratio(c["declined_off"], c["off_topic"], 1.0),
        false_decline=_ratio(c["false_declines"], c["in_scope"], 0.0),
        urgent_recall=_ratio(c["urgent_hits"], c["urgent"], 1.0),
        urgent_precision=_ratio(c["urgent_hits"], c["predicted_urgent"], 1.0),
        municipality=_ratio(c["municipality_hits"], c["cases"], 1.0),
        material_recall=_ratio(c["material_hits"], c["with_material"], 1.0),
        counts=c,
        errors=errors,
    )


def format_table(report: Report, title: str = "Lotsen") -> str:
    """The metrics as an aligned text table."""
    d = report.as_dict()
    width = max(len(label) for _, label, _ in METRIC_LABELS)
    lines = [f"{'metric':<{width}}  {title:>10}  {'n':>5}", "-" * (width + 19)]
    for key, label, count in METRIC_LABELS:
        lines.append(f"{label:<{width}}  {d[key]:>10.3f}  {report.counts.get(count, 0):>5}")
    return "\n".join(lines)
