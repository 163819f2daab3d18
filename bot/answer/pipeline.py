"""The whole answer flow as one generator of typed events.

`answer()` retrieves, decides whether the library can answer, generates (or extracts), checks
citations and reports timings. Front ends only render the events.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

from bot.answer.citations import check
from bot.answer.condense import standalone
from bot.answer.extractive import extract
from bot.answer.llm import LLM, LLMUnavailable, make_llm
from bot.answer.prompts import build_messages
from bot.answer.reasoning import strip_thinking, without_thinking
from bot.answer.retrieval import Filters, Retriever
from bot.core.events import AnswerEvent, Cited, Done, Failed, Reason, Retrieved, Token
from bot.core.index import IndexStore
from bot.core.models import load_embeddings
from bot.core.settings import Settings
from bot.core.types import Citation, Source

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_OTHER_LLMS = 4  # LLMs other than the configured one kept loaded for per-request choices
RELATED = 3  # closest sources listed with an abstention
RELATED_QUOTE_CHARS = 300
LLMFactory = Callable[[Settings], LLM | None]


@dataclass
class Conversation:
    """What a follow-up needs: earlier turns, the number each cited article has, and the
    titles the last answer cited (follow-ups often point at them)."""

    turns: list[tuple[str, str]] = field(default_factory=list)
    numbering: dict[str, int] = field(default_factory=dict)
    last_titles: list[str] = field(default_factory=list)

    def query_for(self, question: str) -> str:
        previous = self.turns[-1][0] if self.turns else None
        return standalone(question, previous, self.last_titles)


class Engine:
    """Everything expensive, loaded once per process and shared by every conversation.

    The parts come in through the constructor, so tests and benchmarks give it other ones (a
    scripted LLM, a retriever with other rankings); `open` builds the configured ones. An `llm`
    of None answers with the sources' own sentences (`extractive`); `llm_factory` makes the
    LLMs a web visitor may pick instead of the configured one.
    """

    def __init__(self, settings: Settings, retriever: Retriever, llm: LLM | None,
                 llm_factory: LLMFactory = make_llm) -> None:
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.llm_factory = llm_factory
        self._other_llms: OrderedDict[str, LLM | None] = OrderedDict()
        self._other_llms_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, with_llm: bool = True) -> Engine:
        """The engine the settings describe: the index they name, its embedding model, and their
        LLM (none when `with_llm` is false: retrieval-only work never loads a model)."""
        store = IndexStore.open_for_reading(settings)
        retriever = Retriever(store, load_embeddings(settings.embedding_model))
        return cls(settings, retriever, make_llm(settings) if with_llm else None)

    @property
    def store(self) -> IndexStore:
        return self.retriever.store

    @property
    def embeddings(self):
        return self.retriever.embeddings

    def for_settings(self, settings: Settings) -> Engine:
        """This engine's index and embeddings answering with other settings (a web user's choice
        of LLM, style or number of sources). Each LLM is loaded once and shared; only the few
        most recently used besides the configured one stay loaded."""
        view = copy.copy(self)
        view.settings = settings
        if settings.llm != self.settings.llm:
            with self._other_llms_lock:
                if settings.llm not in self._other_llms:
                    self._other_llms[settings.llm] = self.llm_factory(settings)
                    while len(self._other_llms) > MAX_OTHER_LLMS:
                        self._other_llms.popitem(last=False)
                self._other_llms.move_to_end(settings.llm)
                view.llm = self._other_llms[settings.llm]
        return view

    def refresh(self) -> None:
        """Pick up what ingestion changed since start-up (the keyword index is rebuilt)."""
        self.retriever = self.retriever.reloaded()

    @property
    def llm_name(self) -> str:
        return self.llm.name if self.llm else "extractive (no LLM)"


def _related(sources: list[Source]) -> list[Citation]:
    return [Citation.from_source(i, s, s.best.text[:RELATED_QUOTE_CHARS]) for i, s in enumerate(sources[:RELATED], start=1)]


def _draft(engine: Engine, question: str, sources: list[Source], conversation: Conversation,
           settings: Settings, timings: dict[str, float], started: float) -> Generator[Token, None, str]:
    """Stream the LLM's draft (without a reasoning model's thinking); the full draft is the
    generator's return value. LLMUnavailable propagates to the caller."""
    messages = build_messages(question, sources, list(range(1, len(sources) + 1)),
                              settings.answer_style, conversation.turns,
                              budget_chars=engine.llm.context_tokens * 2)
    pieces: list[str] = []
    for piece in without_thinking(engine.llm.stream(messages, settings.max_new_tokens, settings.temperature)):
        if not pieces:
            timings["first_token_s"] = time.perf_counter() - started
        pieces.append(piece)
        yield Token(piece)
    return strip_thinking("".join(pieces))


def answer(question: str, engine: Engine, conversation: Conversation | None = None,
           settings: Settings | None = None, filters: Filters = Filters()) -> Iterator[AnswerEvent]:
    """Answer one question of `conversation` (which it updates once the answer is checked).
    Every outcome is an event with its status; nothing is raised for the front ends to word."""
    settings = settings or engine.settings
    conversation = conversation if conversation is not None else Conversation()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    question = question.strip()
    if not question:
        yield Failed("Please type a question.")
        return
    if len(question) > MAX_QUESTION_CHARS:
        yield Failed(f"The question is too long ({len(question)} characters; the limit is {MAX_QUESTION_CHARS}).")
        return

    query = conversation.query_for(question)
    vector = engine.retriever.embed(query)
    sources = engine.retriever.search(query, settings.top_k, filters, vector=vector)
    timings["retrieval_s"] = time.perf_counter() - started
    yield Retrieved([p for s in sources for p in s.passages])

    if not sources or max(s.dense for s in sources) < settings.min_relevance:
        off_topic = engine.retriever.topicality(vector) < settings.min_topicality
        yield Cited("", [], abstained=True, reason=Reason.OFF_TOPIC if off_topic else Reason.NOTHING_RELEVANT,
                    related=[] if off_topic else _related(sources))
        timings["total_s"] = time.perf_counter() - started
        yield Done(timings)
        return

    if engine.llm is None:
        draft = extract(question, sources, engine.embeddings)
    else:
        try:
            draft = yield from _draft(engine, question, sources, conversation, settings, timings, started)
        except LLMUnavailable as exc:
            yield Failed(str(exc))
            return

    idf = engine.retriever.idf
    checked = check(draft, sources, conversation.numbering, idf)
    fallback = engine.llm is not None and (
        not checked.citations or checked.unsupported_sentences > checked.supported_sentences)
    if fallback:
        # A draft that the sources mostly do not support is not shown as the answer: weak
        # local models invent, and the reader gets the sources' own words instead.
        checked = check(extract(question, sources, engine.embeddings), sources, conversation.numbering, idf)
    conversation.numbering = checked.numbering
    conversation.turns.append((question, checked.text))
    conversation.last_titles = [c.title for c in checked.citations]
    yield Cited(checked.text, checked.citations, fallback=fallback, extracted=fallback or engine.llm is None,
                reason=Reason.DRAFT_UNSUPPORTED if fallback else None,
                unsupported_sentences=checked.unsupported_sentences, supported_sentences=checked.supported_sentences)
    timings["total_s"] = time.perf_counter() - started
    yield Done(timings)
