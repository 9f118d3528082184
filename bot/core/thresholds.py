"""The numbers the router decides by: how much evidence answers, fuses, declines or makes a message acute.

`Thresholds` holds the ones that decide fusion, declining and risk; a `Router` is
built with one (`Thresholds()` by default) so that `bench/` can try others without
touching the code. The structural limits below it (how many topics are listed, how
long a message is read sentence by sentence) are not tuned.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """The router's tunable numbers; see each field's comment for what it decides."""

    decline_below: float = 2.2  # less fused evidence than this declines
    offtopic_needs: float = 3.0  # with an off-topic cue, at least one strong keyword is needed
    now_needs: float = 5.0  # lexical evidence an urgent topic needs to be acute on "now" words alone
    tie_ratio: float = 0.85  # a second topic this close to the first asks to clarify
    keep_ratio: float = 0.45  # topics listed besides the first
    signal_boost: float = 1.0  # an acute topic is put this far ahead of the next
    # Evidence added to the acute signal's own topic when choosing an acute message's topic:
    acute_topic_bonus: float = 3.0  # ... a signal read from meaning
    concept_topic_bonus: float = 6.0  # ... a concept of knowledge/urgency.yaml (word families written per topic)
    # Fusion of the sentence encoder with the word scores (see `_fuse`).
    sem_weight: float = 2.5  # score added to the topic whose phrasings are nearest in meaning
    sem_window: float = 0.04  # topics within this cosine of the nearest get a share of sem_weight
    model_weight: float = 2.5  # score added to the topic the topic model (semantic.fit_classes) puts first
    model_window: float = 0.4  # topics within this much of its first get a share of model_weight
    sem_same: float = 0.97  # cosine to one example phrasing that makes its topic the answer (near-identical wording)
    sem_accept: float = 0.885  # cosine to a topic's phrasings at which meaning alone answers
    sem_off_margin: float = 0.025  # ... provided the message is this much nearer a topic than any off-topic example
    sem_accept_en: float = 0.855  # sem_accept for an English message (cross-language cosines run lower) ...
    sem_off_margin_en: float = 0.01  # ... and its sem_off_margin
    sem_off_no_child: float = 0.04  # ... or this much when the message names no child (see `_declines`)
    sem_off_below: float = 0.0  # nearer an off-topic example than any topic: off-topic unless the words are strong
    sem_far: float = 0.86  # this far from every topic: off-topic unless the words are strong
    words_override: float = 4.5  # word evidence that answers even when the meaning looks off-topic
    sem_acute: float = 0.25  # risk model score (-1 calm .. +1 acute, see semantic.fit_risk) that makes a message acute
    sem_possible: float = 0.05  # risk score that makes it possibly acute
    sem_veto: float = -0.6  # a risk score this calm turns an acute word signal into a possible one ...
    veto_words: int = 8  # ... in a message of at least this many words (a short one is too little to read)
    sentence_doubt: float = 0.35  # one sentence alone must read this much more acute than a whole message


MAX_TOPICS = 3  # topics an answer lists at most
GREETING_WORDS = 6  # a declined message this short that opens with a greeting gets the greeting reply
LONG_SENTENCES = 3  # from this many sentences each is also encoded on its own (see `_encode`)
MAX_SENTENCES = 8  # sentences of a long message encoded on their own at most
GENERAL_SENTENCES = 3  # a message this short with a general marker and nothing "now" is a general question
VAGUE_WORDS = 8  # a worried message this short, with nothing to go on, gets a clarifying question
CLARIFY_CHOICES = 5  # topics offered when a vague message is asked what it is about
