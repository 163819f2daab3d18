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
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.citations import check
from bot.condense import standalone
from bot.config import Settings
from bot.extractive import extract
from bot.llm import LLM, LLMUnavailable, make_llm
from bot.models import load_embeddings
from bot.prompts import build_messages
from bot.retrieval import Filters, Retriever, Source
from bot.schema import AnswerEvent, Citation, Cited, Done, Failed, Retrieved, Token
from bot.store import IndexStore

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
NOTHING_FOUND = (
    "The library has nothing reliable on this, so I won't guess. "
    "I answer questions about AI alignment from the bundled articles; the closest sources are listed below."
)
OFF_TOPIC = (
    "I can only help with questions about AI alignment and AI safety. Try asking about reward "
    "learning and RLHF, shard theory, wireheading and reward hacking, goal misgeneralization, "
    "corrigibility or interpretability."
)
MAX_OTHER_LLMS = 4  # LLMs other than the configured one kept loaded for per-request choices
UNVERIFIED = "The model's draft could not be matched to the sources, so here is what they say directly: "


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
    """Everything expensive, loaded once per process and shared by every conversation."""

    def __init__(self, settings: Settings, llm: LLM | None = None, load_llm: bool = True) -> None:
        self.settings = settings
        self.store = IndexStore.open_for_reading(settings)
        self.embeddings = load_embeddings(settings.embedding_model)
        self.retriever = Retriever(self.store, self.embeddings)
        self.llm = llm if llm is not None or not load_llm else make_llm(settings)
        self._other_llms: OrderedDict[str, LLM | None] = OrderedDict()
        self._other_llms_lock = threading.Lock()

    def for_settings(self, settings: Settings) -> Engine:
        """This engine's index and embeddings answering with other settings (a web user's choice
        of LLM, style or number of sources). Each LLM is loaded once and shared; only the few
        most recently used besides the configured one stay loaded."""
        view = copy.copy(self)
        view.settings = settings
        if settings.llm != self.settings.llm:
            with self._other_llms_lock:
                if settings.llm not in self._other_llms:
                    self._other_llms[settings.llm] = make_llm(settings)
                    while len(self._other_llms) > MAX_OTHER_LLMS:
                        self._other_llms.popitem(last=False)
                self._other_llms.move_to_end(settings.llm)
                view.llm = self._other_llms[settings.llm]
        return view

    def refresh(self) -> None:
        """Pick up what ingestion changed since start-up (the keyword index is rebuilt)."""
        self.retriever = Retriever(self.store, self.embeddings)

    @property
    def llm_name(self) -> str:
        return self.llm.name if self.llm else "extractive (no LLM)"


def _related(sources: list[Source]) -> list[Citation]:
    return [
        Citation(n=i, doc_id=s.doc_id, title=s.best.title, authors=s.best.authors, url=s.best.url,
                 date=s.best.date, quote=s.best.text[:300], references=s.best.references)
        for i, s in enumerate(sources[:3], start=1)
    ]


def answer(question: str, engine: Engine, conversation: Conversation | None = None,
           settings: Settings | None = None, filters: Filters = Filters()) -> Iterator[AnswerEvent]:
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
        if engine.retriever.topicality(vector) < settings.min_topicality:
            yield Cited(OFF_TOPIC, [], abstained=True)
        else:
            yield Cited(NOTHING_FOUND, [], abstained=True, related=_related(sources))
        timings["total_s"] = time.perf_counter() - started
        yield Done(timings)
        return

    if engine.llm is None:
        draft = extract(question, sources, engine.embeddings)
    else:
        messages = build_messages(question, sources, list(range(1, len(sources) + 1)),
                                  settings.answer_style, conversation.turns,
                                  budget_chars=engine.llm.context_tokens * 2)
        pieces: list[str] = []
        try:
            for piece in engine.llm.stream(messages, settings.max_new_tokens, settings.temperature):
                if not pieces:
                    timings["first_token_s"] = time.perf_counter() - started
                pieces.append(piece)
                yield Token(piece)
        except LLMUnavailable as exc:
            yield Failed(str(exc))
            return
        draft = "".join(pieces)

    idf = engine.retriever.idf
    checked = check(draft, sources, conversation.numbering, idf)
    if not checked.citations or checked.unsupported_sentences > checked.supported_sentences:
        # A draft that the sources mostly do not support is not shown as the answer: weak
        # local models invent, and the reader gets the sources' own words instead.
        checked = check(extract(question, sources, engine.embeddings), sources, conversation.numbering, idf)
        if engine.llm is not None:
            checked.text = UNVERIFIED + checked.text
    conversation.numbering = checked.numbering
    conversation.turns.append((question, checked.text))
    conversation.last_titles = [c.title for c in checked.citations]
    yield Cited(checked.text, checked.citations, unsupported_sentences=checked.unsupported_sentences,
                supported_sentences=checked.supported_sentences)
    timings["total_s"] = time.perf_counter() - started
    yield Done(timings)
