"""Answer events: the answer pipeline yields these, and the CLI, the JSON output, the evaluator
and the web page all consume the same stream.

Events carry what happened as fields (abstained, fell back, why); the words a reader sees for
those states live here too, once, so every front end says the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.types import Citation, Passage


class Reason(StrEnum):
    """Why an answer is not the model's own checked draft."""

    OFF_TOPIC = "off_topic"  # abstained: the question is not about AI alignment
    NOTHING_RELEVANT = "nothing_relevant"  # abstained: on topic, but the library has nothing close
    DRAFT_UNSUPPORTED = "draft_unsupported"  # the LLM's draft was mostly unsupported: sources' words instead
    GREETING = "greeting"  # not a question: a hello gets a hello and what the bot does
    THANKS = "thanks"  # not a question: thanks get a short reply
    NOT_A_TASK_WE_DO = "not_a_task_we_do"  # a poem, a translation, code: not what the bot does
    LLM_STOPPED = "llm_stopped"  # the LLM failed mid-answer: what it wrote and checked stays, the sources say the rest


MESSAGES = {
    Reason.OFF_TOPIC: (
        "I can only help with questions about AI alignment and AI safety. Try asking about reward "
        "learning and RLHF, shard theory, wireheading and reward hacking, goal misgeneralization, "
        "corrigibility or interpretability."
    ),
    Reason.NOTHING_RELEVANT: (
        "The library has nothing reliable on this, so I won't guess. "
        "I answer questions about AI alignment from the bundled articles; the closest sources are listed below."
    ),
    Reason.DRAFT_UNSUPPORTED: "This answer quotes the sources directly, because the model's draft could not be matched to them.",
    Reason.LLM_STOPPED: "The model stopped before finishing its answer, so the sources' own sentences finish it.",
    Reason.GREETING: (
        "Hello! I answer questions about AI alignment from a library of articles, and every claim links to "
        "the passage it rests on. Try \"Will an AI trained with rewards just want the reward?\" or \"What is "
        "reward hacking?\""
    ),
    Reason.THANKS: "You're welcome. Ask another question about AI alignment whenever you like.",
    Reason.NOT_A_TASK_WE_DO: (
        "I don't write poems, stories, code or translations: I answer questions about AI alignment from the "
        "library's articles, with every claim linked to its source. Try asking, for example, \"What is reward hacking?\""
    ),
}


@dataclass
class Retrieved:
    passages: list[Passage]


@dataclass
class Token:
    """A piece of the model's draft as it is generated (never a reasoning model's thinking).
    Front ends show progress from these, not the text: only checked sentences are the answer."""

    text: str


@dataclass
class Queued:
    """The answer waits for the model, which writes one answer at a time: `ahead` answers are
    before this one, expected to take about `wait_s` seconds (None until one has been timed)."""

    ahead: int
    wait_s: float | None = None

    @property
    def words(self) -> str:
        """What a reader waiting is told."""
        line = "1 answer is" if self.ahead == 1 else f"{self.ahead} answers are"
        wait = f", about {max(1, round(self.wait_s))} s" if self.wait_s is not None else ""
        return f"Waiting for the model: {line} ahead of yours{wait}."


@dataclass
class Thinking:
    """A reasoning model is thinking before it answers: how many words of thought so far. The
    thought itself is never shown or checked; time to first answer token is measured after it."""

    words: int


@dataclass
class Sentence:
    """One sentence of the answer, checked and shown as soon as it is complete. The answer is
    these sentences joined, so what a reader watched is what stays; `citations` are the
    sources cited so far."""

    text: str
    citations: list[Citation]
    quoted: bool = False  # the sources' own sentence, not the model's


@dataclass
class Cited:
    """The checked answer. `answer_text` holds only claims about the field, with `[n]` markers;
    an abstention has none (its words are `MESSAGES[reason]`)."""

    answer_text: str
    citations: list[Citation]
    abstained: bool = False
    fallback: bool = False  # an LLM's draft was replaced by the sources' own sentences
    extracted: bool = False  # the answer is the sources' own sentences (no LLM, or a fallback)
    reason: Reason | None = None  # why it abstained or fell back
    unsupported_sentences: int = 0  # the model's claims no source supports (left out of the answer)
    supported_sentences: int = 0
    quoted_sentences: int = 0  # the sources' own sentences (all of them when extracted)
    related: list[Citation] = field(default_factory=list)  # closest sources when abstaining
    detail: str = ""  # what went wrong, in words, when the LLM stopped mid-answer

    @property
    def text(self) -> str:
        """What a reader is told: the answer, or for an abstention the reason in words."""
        return MESSAGES[self.reason] if self.abstained and self.reason else self.answer_text


@dataclass
class Done:
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Failed:
    message: str


AnswerEvent = Retrieved | Queued | Thinking | Token | Sentence | Cited | Done | Failed


def _sentences(n: int) -> str:
    return f"{n} sentence" if n == 1 else f"{n} sentences"


def answer_notes(cited: Cited) -> list[str]:
    """What a reader should know about how an answer was put together, in one plain sentence
    (shown with its sources, never as a prefix of the answer): two notes on one answer ("the draft
    could not be matched", "2 sentences were left out") read as two failures, not one answer."""
    left_out = 0 if cited.abstained else cited.unsupported_sentences
    if cited.reason == Reason.LLM_STOPPED:
        return [MESSAGES[cited.reason] + (f" ({cited.detail})" if cited.detail else "")]
    if cited.fallback and cited.reason:
        if left_out:
            return [f"This answer quotes the sources directly, because no source supports the {_sentences(left_out)} "
                    "the model drafted."]
        return [MESSAGES[cited.reason]]
    if cited.extracted:
        return ["This answer quotes the sources' own sentences."]
    one = left_out == 1
    dropped = f"{_sentences(left_out)} of the model's draft {'was' if one else 'were'} left out because no source " \
              f"supports {'it' if one else 'them'}" if left_out else ""
    if cited.quoted_sentences:
        quoted = "The last sentence quotes" if cited.quoted_sentences == 1 else \
            f"The last {cited.quoted_sentences} sentences quote"
        return [f"{quoted} the sources directly" + (f"; {dropped}." if dropped else ".")]
    return [dropped[0].upper() + dropped[1:] + "."] if dropped else []
