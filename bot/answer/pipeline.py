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

from bot.answer.citations import Checker, complete_sentences, split_sentences
from bot.answer.condense import standalone
from bot.answer.extractive import SHAPES, Candidate, candidates, select
from bot.answer.intent import (
    asks_for_a_figure,
    asks_for_a_name,
    asks_for_a_title,
    defined_term,
    known_acronyms,
    mentions,
    named_term,
    not_a_question,
    sentence_stating_figure,
    sentence_stating_name,
    sentence_stating_title,
    unknown_names,
    unknown_terms,
)
from bot.answer.llm import LLM, LLMUnavailable, make_llm
from bot.answer.prompts import build_messages, build_notes_messages
from bot.answer.reasoning import without_thinking
from bot.answer.retrieval import Filters, Retriever, open_retriever
from bot.answer.support import Verifier
from bot.core.events import AnswerEvent, Cited, Done, Failed, Queued, Reason, Retrieved, Sentence, Thinking, Token
from bot.core.index import SUMMARY_HEADING, IndexStore, IndexUnavailable
from bot.core.models import common_words
from bot.core.settings import Settings
from bot.core.text import content_words, overlap
from bot.core.types import Citation, Source
from bot.core.writes import library_version

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_OTHER_LLMS = 4  # LLMs other than the configured one kept loaded for per-request choices
RELATED = 3  # closest sources listed with an abstention
RELATED_QUOTE_CHARS = 300
MIN_SUPPORTED = 2  # a draft with fewer supported claims is filled up with the sources' own sentences
TOPPED_UP = 2  # how many of the best sources may get their opening passages added
OPENING_PASSAGES = 2
MAX_LEFT_OUT = 4  # draft sentences left out after which the model is stopped
REPEATED = 0.6  # a source sentence sharing this much of its words with the answer would repeat it
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
        self.verifier = Verifier(retriever.embeddings)  # shared, so its cache of passage windows is too
        self._other_llms: OrderedDict[str, LLM | None] = OrderedDict()
        self._other_llms_lock = threading.Lock()
        self._version = library_version(settings)
        self._refresh_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, with_llm: bool = True) -> Engine:
        """The engine the settings describe: the index they name, its embedding model, and their
        LLM (none when `with_llm` is false: retrieval-only work never loads a model)."""
        return cls(settings, open_retriever(settings), make_llm(settings) if with_llm else None)

    ready = True  # loaded (the web app's LoadingEngine is not, for the first seconds)

    def wait(self) -> Engine:
        return self

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
        with self._refresh_lock:
            self._version = library_version(self.settings)
            self.retriever = self.retriever.reloaded()

    def refresh_if_changed(self) -> bool:
        """Reload when another process (`python -m ingest`, a restore) changed the library since
        this engine last looked: one small file read per question. True when it reloaded."""
        if library_version(self.settings) == self._version:
            return False
        with self._refresh_lock:
            seen = library_version(self.settings)
            if seen == self._version:
                return False  # another thread reloaded meanwhile
            log.info("the library changed on disk; reloading the search index")
            self.retriever = self.retriever.reloaded(self.store.reopened())
            self._version = seen
            return True

    @property
    def llm_name(self) -> str:
        return self.llm.name if self.llm else "extractive (no LLM)"


def _related(sources: list[Source]) -> list[Citation]:
    return [Citation.from_source(i, s, s.best.text[:RELATED_QUOTE_CHARS]) for i, s in enumerate(sources[:RELATED], start=1)]


def _prompt(engine: Engine, question: str, sources: list[Source], chosen: list[Candidate],
            conversation: Conversation, settings: Settings) -> list[dict[str, str]]:
    """A small model gets the chosen sentences as notes; a capable one the passages themselves."""
    if engine.llm.small:
        return build_notes_messages(question, [(c.source, sources[c.source - 1].best.title, c.text) for c in chosen])
    return build_messages(question, sources, list(range(1, len(sources) + 1)), settings.answer_style,
                          conversation.turns, budget_chars=engine.llm.context_tokens * 2)


def _add_readable_passages(store: IndexStore, sources: list[Source], question: str) -> None:
    """A top source whose retrieved passages hold no sentence an answer can use (its summary and a
    list of related articles match a question about it best) also gets its opening passages: a
    question about an article should be answered from it. So does a top source whose title names
    what a "What is X?" asks about: explainers say what X is in their opening paragraph, and the
    passages that match the question best are often later ones that use X without defining it."""
    term = defined_term(question)
    for source in sources[:TOPPED_UP]:
        names_term = bool(term) and term <= content_words(source.best.title)
        if candidates([source]) and not names_term:
            continue
        held = {p.chunk_id for p in source.passages}
        opening = [p for p in store.passages_of(source.doc_id)
                   if p.chunk_id not in held and p.headings != (SUMMARY_HEADING,)][:OPENING_PASSAGES]
        source.passages.extend(opening)


def _checked_stream(pieces: Generator[str | Queued | Thinking, None, None], checker: Checker, wanted: int,
                    timings: dict[str, float], started: float) -> Iterator[Queued | Thinking | Token | Sentence]:
    """The model's stream as progress (its thinking, then tokens), and each sentence checked as soon as it is
    complete (a claim no source supports is left out). Generation stops once the answer has
    the sentences its style asks for, or when the model keeps writing what no source supports:
    a small model that has lost the thread only gets slower and further off. LLMUnavailable
    propagates."""
    text = ""
    done = 0
    try:
        for piece in pieces:
            if isinstance(piece, Queued):
                timings["queued_s"] = time.perf_counter() - started
                yield piece
                continue
            if isinstance(piece, Thinking):
                timings.setdefault("thinking_started_s", time.perf_counter() - started)
                yield piece
                continue
            if not text:
                timings["first_token_s"] = time.perf_counter() - started
            text += piece
            yield Token(piece)
            complete = complete_sentences(text, checker.titles)
            for raw in complete[done:]:
                yield from _shown(checker, raw, timings, started)
            done = max(done, len(complete))
            if len(checker.sentences) >= wanted or done - len(checker.sentences) >= MAX_LEFT_OUT:
                return
        for raw in split_sentences(text, checker.titles)[done:]:
            yield from _shown(checker, raw, timings, started)
    finally:
        pieces.close()  # a local model stops generating; a server's stream is closed


def _shown(checker: Checker, raw: str, timings: dict[str, float], started: float, quoted: bool = False) -> Iterator[Sentence]:
    sentence = checker.add(raw, quoted=quoted)
    if sentence is not None:
        timings.setdefault("first_sentence_s", time.perf_counter() - started)
        yield Sentence(sentence.text, checker.citations, quoted=quoted)


def _quotes_to_add(checker: Checker, chosen: list[Candidate], wanted: int) -> list[str]:
    """Chosen source sentences that say something the answer does not say yet, up to `wanted`
    sentences in all: what fills an answer when the model's draft left too little."""
    said = [content_words(s.text) for s in checker.sentences]
    room = wanted - len(checker.sentences)
    out = []
    for c in chosen:
        words = content_words(c.text)
        if room <= len(out):
            break
        if all(overlap(words, w) < REPEATED for w in said):
            out.append(f"{c.text} [{c.source}]")
            said.append(words)
    return out


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

    small_talk = not_a_question(question)
    if small_talk is not None:  # a short reply, not an answer stitched from articles sharing a word
        yield Retrieved([])
        yield Cited("", [], abstained=True, reason=small_talk)
        yield Done({"total_s": time.perf_counter() - started})
        return

    query = conversation.query_for(question)
    vector = engine.retriever.embed(query)
    try:
        sources = engine.retriever.search(query, settings.top_k, filters, vector=vector)
        _add_readable_passages(engine.store, sources, question)
    except IndexUnavailable as exc:  # a `chroma run` server restarting: the next question reconnects
        yield Failed(str(exc))
        return
    timings["retrieval_s"] = time.perf_counter() - started
    yield Retrieved([p for s in sources for p in s.passages])

    term = named_term(question)
    common = common_words(engine.settings.embedding_model)
    unknown = unknown_terms(question, engine.retriever.idf, common)
    names = unknown_names(question, engine.retriever.idf)
    best = max((s.dense for s in sources), default=0.0)
    # A name the library never uses is what the question is about, however close its other words
    # come (an unrelated question is left to the off-topic reply below).
    unknown_topic = (bool(unknown) and best < settings.unknown_term_relevance) or (bool(names) and best >= settings.min_relevance)
    # A figure, title or name asked for: the sentence stating it opens the answer; none, and it is
    # declined. A follow-up ("Who came up with it?") names its subject only through the conversation.
    asked = "figure" if asks_for_a_figure(question) else "title" if asks_for_a_title(question) else \
        "name" if query == question and asks_for_a_name(question) else ""
    stating = None
    if asked == "name":
        stating = sentence_stating_name(question, sources, engine.retriever.idf, common)
    elif asked:
        stating = (sentence_stating_figure if asked == "figure" else sentence_stating_title)(
            question, sources, engine.retriever.idf)
    # Short questions about an acronym embed far from everything; the acronym itself says they are on topic.
    relevant = bool(sources) and (best >= settings.min_relevance or bool(known_acronyms(question, engine.retriever.idf)))
    # A question off the field altogether ("Who won the World Cup?") gets the off-topic reply below.
    if sources and (unknown_topic or (term and not mentions(sources, term)) or (asked and relevant and stating is None)):
        # "What is X?" where no passage names X, a question about a term the library never uses,
        # or a figure, title or name no passage states: the articles only share words with the question.
        why = f"no passage states the {asked} asked for" if asked and relevant and stating is None else \
            f"no passage names {', '.join(names or unknown) or ' '.join(sorted(term))}"
        log.info("declined %r: %s", question, why)
        yield Cited("", [], abstained=True, reason=Reason.NOTHING_RELEVANT, related=_related(sources))
        timings["total_s"] = time.perf_counter() - started
        yield Done(timings)
        return
    if not relevant:
        off_topic = engine.retriever.topicality(vector) < settings.min_topicality
        yield Cited("", [], abstained=True, reason=Reason.OFF_TOPIC if off_topic else Reason.NOTHING_RELEVANT,
                    related=[] if off_topic else _related(sources))
        timings["total_s"] = time.perf_counter() - started
        yield Done(timings)
        return

    chosen = select(question, sources, engine.embeddings, settings.answer_style, lead=stating)
    wanted = SHAPES.get(settings.answer_style, SHAPES["concise"]).sentences
    drafting = engine.llm is not None
    checker = Checker(sources, conversation.numbering, engine.retriever.idf, drop_unsupported=drafting,
                      verifier=engine.verifier if drafting else None, small_model=drafting and engine.llm.small)
    stopped = ""  # why the LLM stopped mid-answer
    if engine.llm is not None:
        messages = _prompt(engine, question, sources, chosen, conversation, settings)
        stream = without_thinking(engine.llm.stream(messages, settings.max_new_tokens, settings.temperature))
        try:
            yield from _checked_stream(stream, checker, wanted, timings, started)
        except LLMUnavailable as exc:
            if "first_token_s" not in timings:  # it never answered: say what to do, there is nothing to keep
                yield Failed(str(exc))
                return
            stopped = str(exc)  # what the reader watched stays; the sources finish the answer
            log.warning("the LLM stopped mid-answer: %s", stopped)
    drafted = len(checker.sentences)
    if stopped or checker.supported < MIN_SUPPORTED:
        # Too little of the draft (or no draft: no LLM) stands, or the LLM stopped: the sources'
        # own sentences say the rest.
        more = MIN_SUPPORTED if checker.supported < MIN_SUPPORTED else 1
        for raw in _quotes_to_add(checker, chosen, max(wanted, drafted + more)):
            yield from _shown(checker, raw, timings, started, quoted=True)
    checked = checker.result()
    quoted = len(checker.sentences) - drafted
    fallback = engine.llm is not None and drafted == 0
    conversation.numbering = checked.numbering
    conversation.turns.append((question, checked.text))
    cited = {c.doc_id for c in checked.citations}
    # In retrieval order: the articles closest to the question, whatever sentence cited them first.
    conversation.last_titles = [s.best.title for s in sources if s.doc_id in cited]
    yield Cited(checked.text, checked.citations, fallback=fallback, extracted=engine.llm is None or fallback,
                reason=Reason.LLM_STOPPED if stopped else Reason.DRAFT_UNSUPPORTED if fallback else None,
                detail=stopped, quoted_sentences=quoted, unsupported_sentences=checked.unsupported_sentences,
                supported_sentences=checked.supported_sentences)
    timings["total_s"] = time.perf_counter() - started
    yield Done(timings)
