"""Optional LLM-as-judge metrics: faithfulness and relevance of an answer, in the judge's opinion.

These are opinions of a model, not measurements, so they are kept apart from the measured
metrics and labelled with the judge's name wherever they appear. A judge must be capable:
the bundled 135M model is refused, because its verdicts would be noise presented as numbers.

- faithfulness: the share of the answer's sentences the judge finds supported by the passages
  the answering model was given (the RAGAS notion, one verdict per sentence);
- relevance: how fully the answer addresses the question, 1 to 5, mapped to 0 to 1.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from bot.answer.llm import LLM, LLMUnavailable, make_llm
from bot.core.markers import strip_markers
from bot.core.models import FAST_LLM_FILE, LLM_FILE
from bot.core.settings import Settings
from bot.core.text import content_words, sentences
from bot.core.types import Passage

log = logging.getLogger(__name__)

MAX_SOURCE_CHARS = 6000
MAX_SENTENCES = 12
NEEDS_ANSWERS = "a judge grades answers, and --retrieval-only makes none: drop one of the two"
_VERDICT = re.compile(r"^\W*(\d+)\W+(yes|no|supported|unsupported|not supported)\b", re.I | re.M)
_GRADE = re.compile(r"\b([1-5])\b")

FAITHFULNESS_SYSTEM = (
    "You are a strict fact checker. For each numbered statement, decide whether the sources state "
    "it or directly imply it. Reply with one line per statement, exactly `N: YES` or `N: NO`, and "
    "nothing else. Judge only against the sources, never against what you know."
)
RELEVANCE_SYSTEM = (
    "You grade answers. Given a question and an answer, reply with a single digit from 1 to 5: "
    "1 = does not address the question, 3 = partly answers it, 5 = fully and directly answers it. "
    "Reply with the digit only."
)


def parse_verdicts(reply: str, n_claims: int) -> float | None:
    """Share of statements judged supported, from `N: YES` / `N: NO` lines; None unless every
    statement got a verdict (a partial reply is unreadable, not a lower score). The first verdict
    for a number counts."""
    verdicts: dict[int, bool] = {}
    for number, word in _VERDICT.findall(reply):
        if 1 <= int(number) <= n_claims:
            verdicts.setdefault(int(number), word.lower() in {"yes", "supported"})
    if n_claims == 0 or len(verdicts) < n_claims:
        return None
    return sum(verdicts.values()) / n_claims


def parse_grade(reply: str) -> float | None:
    """The first 1-5 grade in the reply, mapped to 0-1; None when there is none."""
    grade = _GRADE.search(reply)
    return None if grade is None else (int(grade.group(1)) - 1) / 4


class JudgeRefused(ValueError):
    """The chosen judge cannot give meaningful verdicts; the message says what to use instead."""


@dataclass
class Verdict:
    """One question's judged scores; None where the judge's reply could not be read."""

    faithfulness: float | None
    relevance: float | None


def _is_bundled_file(spec: str) -> bool:
    kind, _, value = spec.partition(":")
    return kind == "gguf" and Path(value).name in {LLM_FILE, FAST_LLM_FILE}


def judge_spec(requested: str | None, answering_llm: str, retrieval_only: bool = False) -> str | None:
    """The LLM that judges: `--judge` if given (`none` turns judging off), else the answering LLM
    when it is a capable one (a GGUF file or a server, not the bundled model's file), else nobody.
    A retrieval-only run makes no answers: it has no judge, and asking for one is an error."""
    if requested is None:
        capable = answering_llm.split(":", 1)[0] in {"gguf", "openai"} and not _is_bundled_file(answering_llm)
        return answering_llm if capable and not retrieval_only else None
    if requested == "none":
        return None
    if requested in {"bundled", "extractive"}:
        raise JudgeRefused(
            f"--judge {requested}: judged metrics need a capable LLM, not the bundled 135M model "
            "or no model; give --judge openai:MODEL (with OPENAI_BASE_URL) or --judge gguf:/path/model.gguf"
        )
    if retrieval_only:
        raise ValueError(NEEDS_ANSWERS)
    return requested


class Judge:
    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.name = llm.name

    @classmethod
    def from_spec(cls, spec: str, settings: Settings, answering: LLM | None = None) -> Judge:
        """A judge for `spec`; the `answering` LLM is reused when `spec` is that model (loaded once)."""
        if _is_bundled_file(spec):
            raise JudgeRefused(f"--judge {spec}: that file is the bundled 135M model, too weak to judge; "
                               "give a larger GGUF model or an OpenAI-compatible server")
        llm = answering if answering is not None and spec == settings.llm else make_llm(settings.model_copy(update={"llm": spec}))
        if llm is None:
            raise JudgeRefused(f"--judge {spec}: not an LLM")
        return cls(llm)

    def _ask(self, system: str, user: str, max_tokens: int) -> str:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return "".join(self.llm.stream(messages, max_tokens, 0.0))

    def faithfulness(self, answer: str, passages: list[Passage]) -> float | None:
        claims = [s for s in sentences(strip_markers(answer)) if content_words(s)][:MAX_SENTENCES]
        if not claims or not passages:
            return None
        context = "\n\n".join(f"[{p.title}] {p.text}" for p in passages)[:MAX_SOURCE_CHARS]
        numbered = "\n".join(f"{i}. {claim}" for i, claim in enumerate(claims, start=1))
        reply = self._ask(FAITHFULNESS_SYSTEM, f"Sources:\n{context}\n\nStatements:\n{numbered}", 8 * len(claims) + 16)
        score = parse_verdicts(reply, len(claims))
        if score is None:
            log.warning("the judge did not give a verdict for each of %d statements: %r", len(claims), reply[:200])
        return score

    def relevance(self, question: str, answer: str) -> float | None:
        reply = self._ask(RELEVANCE_SYSTEM, f"Question: {question}\n\nAnswer: {strip_markers(answer)}", 4)
        grade = parse_grade(reply)
        if grade is None:
            log.warning("the judge's relevance reply has no grade: %r", reply[:200])
        return grade

    def judge(self, question: str, answer: str, passages: list[Passage]) -> Verdict:
        """Both scores for one answer; a judge that fails (server down) leaves them unread."""
        try:
            return Verdict(self.faithfulness(answer, passages), self.relevance(question, answer))
        except LLMUnavailable as exc:
            log.warning("the judge did not answer: %s", exc)
            return Verdict(None, None)
