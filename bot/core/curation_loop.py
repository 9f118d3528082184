"""Which questions the process leaders should look at, and which topics to suggest for each.

Pure functions over the knowledge base and the router, used by /obesvarade and
the weekly digest. A question is an *intended decline* when Lotsen declined it
and it carries an off-topic cue (salary, lunch, leave …): staff asked about
something Lotsen is not for. Everything else declined, unsure or given 👎 is a
*real miss*: a gap in the knowledge base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz, process

from bot.core.router import Router
from bot.knowledge.base import KnowledgeBase
from bot.text.normalize import tokens

MAX_SUGGESTIONS = 3


def _cue_matches(cue: Sequence[str], words: Sequence[str]) -> bool:
    """Every word of the cue is in the text (a long cue word may start a compound: "lön" in "löneförhöjning")."""
    return bool(cue) and all(any(w == c or (len(c) >= 3 and w.startswith(c)) for w in words) for c in cue)


def is_intended_decline(kb: KnowledgeBase, question: Mapping[str, Any]) -> bool:
    """Declined and an off-topic cue matched: not a gap in the knowledge base."""
    if not question.get("declined"):
        return False
    words = [w for w in tokens(question.get("text") or "") if w != "."]
    return any(_cue_matches([w for w in tokens(cue) if w != "."], words) for cue in kb.smalltalk.offtopic)


def suggest_topics(router: Router, kb: KnowledgeBase, question: Mapping[str, Any]) -> list[str]:
    """Up to three topic ids for a question: the router's ranking now, then when logged, then the closest phrasings."""
    text = question.get("text") or ""
    ranked = [t.topic.id for t in router.route(text).topics]
    ranked += [t["id"] for t in question.get("topics") or [] if isinstance(t, dict)]
    if len(dict.fromkeys(ranked)) < MAX_SUGGESTIONS and text:
        choices = {(tid, i): p for tid, topic in kb.topics.items() for i, p in enumerate(topic.phrasings)}
        for _phrasing, _score, (tid, _) in process.extract(text, choices, scorer=fuzz.token_set_ratio, limit=30):
            ranked.append(tid)
    return [tid for tid in dict.fromkeys(ranked) if tid in kb.topics][:MAX_SUGGESTIONS]
