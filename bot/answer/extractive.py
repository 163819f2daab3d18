"""An answer built from the sources' own sentences: no LLM, always grounded.

Used when ALIGNCHAT_LLM=extractive, as the short context the bundled model joins into prose,
and to fill an answer when a model's draft leaves too little that the sources support. The
sentences are chosen to read as an answer, not as a pile of fragments: only sentences of the
articles' text (never a heading, a summary's sentence about the article, a question, a list
stub or a pointer to another article), the one closest to the question first, then the rest
without repeats, grouped by article in the order they are written, as many as the style asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bot.answer.intent import defined_term
from bot.core.index import SUMMARY_HEADING
from bot.core.markup import plain, strip_bullet
from bot.core.text import ENDS_AS_STATEMENT, content_words, is_instruction, sentences
from bot.core.types import Source


@dataclass(frozen=True)
class Shape:
    """How much an answer style says: sentences in all, at most per article, words per sentence."""

    sentences: int
    per_source: int
    max_words: int


SHAPES = {
    "concise": Shape(sentences=3, per_source=3, max_words=50),
    "detailed": Shape(sentences=6, per_source=3, max_words=70),
    "beginner": Shape(sentences=3, per_source=3, max_words=30),
}
MIN_CONTENT_WORDS = 4
RANK_PENALTY = 0.03  # a small preference for the better-ranked articles
DANGLING_PENALTY = 0.06  # "This is why..." needs the sentence before it
REPEAT_WEIGHT = 0.5  # how much likeness to an already chosen sentence costs
REPEAT_LIMIT = 0.85  # likeness above which a sentence says the same thing again
LONG_PENALTY = 0.004  # per word above a beginner's comfortable length
DEFINITION_BONUS = 0.15  # "What is X?" is answered by a sentence that says what X is
JARGON_PENALTY = 0.03  # per name, number, quotation or bracket, for a beginner
OPENING_BONUS = 0.2  # explainers answer their common questions in their opening paragraphs
EXPLAINING_BONUS = 0.05  # a beginner is helped most by sentences that say what a thing is or means
DISAGREEMENT_FLOOR = 0.6  # a detailed answer's disagreement must be this close to the best sentence

_META = re.compile(
    r"^(?:explains|covers|describes|summari[sz]es|introduces|surveys|reviews|outlines|discusses)\b"
    r"|\b(?:this|the present|our) (?:article|section|post|page|explainer|essay|overview|guide|piece)\b"
    r"|\bin this (?:article|section|post|explainer)\b|\b(?:see|read) (?:the|our) (?:article|section)\b"
    r"|\b(?:below|above) we\b|^see\b|\bsee\s+[\"“]|\bthe library(?:'s)? (?:article|explainer|entr)|\b(?:is|are) covered in\b",
    re.I,
)
_CROSS_REFERENCE = re.compile(r"\s*\((?:see|cf\.|compare)\s[^()]*\)", re.I)
_QUOTED = re.compile(r"[\"“]([^\"“”]{8,200})[\"”]")
_DANGLING = re.compile(
    r"^(?:this|that|these|those|it|its|they|their|them|he|she|his|her|such|but|and|also|so|yet|still|instead|"
    r"however|thus|here|there|both|neither|either|the latter|the former|the same|first|second|third|finally|"
    r"moreover|furthermore|in addition|similarly|likewise|for example|for instance|in particular|in short|"
    r"overall|again|then|meanwhile|as a result|on the other hand|other|another|one|more recently|later)\b",
    re.I,
)
_DISAGREEMENT = re.compile(
    r"\b(?:critics?|criticis\w*|critique\w*|disagree\w*|object\w*|sceptic\w*|skeptic\w*|dispute\w*|"
    r"counter\w*|rebut\w*|push(?:ed)? back|not everyone|others argue|replied|in response|doubt\w*)\b",
    re.I,
)
_DEFINING = re.compile(
    r"\b(?:is|are|was|were)\s+(?:a|an|the|what|when|how|one|any)\b"
    r"|\b(?:refers? to|means?|names?|describes?|proposes?|argues?|says?|holds?|claims?|predicts?)\b",
    re.I,
)
_EXPLAINING = re.compile(r"\b(?:is|are)\s+(?:a|an|when|what|how)\b|\bmeans?\b|\brefers? to\b|\bin other words\b|\bfor example\b", re.I)
_JARGON = re.compile(r"(?<=\w )[A-Z][a-z]+|\d+|[\"“(]")


@dataclass(frozen=True)
class Candidate:
    source: int  # 1-based number of the source in the retrieved list
    position: int  # where the passage sits in its article
    index: int  # the sentence's place in its passage
    text: str
    title: str = ""  # of its article
    opening: bool = False  # in the article's opening paragraphs (before its first section)


def readable_sentence(sentence: str) -> str | None:
    """The sentence as it reads inside an answer, or None when it is not a claim of the text."""
    sentence = _CROSS_REFERENCE.sub("", strip_bullet(sentence)).strip()
    if (len(content_words(sentence)) < MIN_CONTENT_WORDS or not ENDS_AS_STATEMENT.search(sentence)
            or not (opening := sentence.lstrip("\"“‘'")[:1]).isupper() and not opening.isdigit()
            or _META.search(sentence) or is_instruction(sentence)):
        return None
    return sentence


def candidates(sources: list[Source]) -> list[Candidate]:
    """Every sentence of the sources' passages that could stand in an answer (summaries excluded:
    they are about the article, not about the question)."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for n, source in enumerate(sources, start=1):
        for passage in source.passages:
            if passage.headings == (SUMMARY_HEADING,):
                continue
            for i, raw in enumerate(sentences(plain(passage.text))):
                sentence = readable_sentence(raw)
                if sentence and sentence.lower() not in seen:
                    seen.add(sentence.lower())
                    out.append(Candidate(n, passage.position, i, sentence, passage.title, len(passage.headings) <= 1))
    return out


def _quotes_question(sentence: str, question: str) -> bool:
    """A sentence quoting the reader's own words ("someone asking whether an AI will 'just max
    out its reward counter' is asking about...") is about such questions, not an answer to one."""
    asked = content_words(question)
    return any(len(words := content_words(span)) >= 3 and words <= asked for span in _QUOTED.findall(sentence))


def _defines(sentence: str, term: set[str]) -> bool:
    opening = " ".join(sentence.split()[:12])
    return bool(term) and term <= content_words(opening) and bool(_DEFINING.search(opening))


def _prior(candidate: Candidate, shape: Shape, term: set[str]) -> float:
    """What a sentence's place and form add to or take from its likeness to the question."""
    words = len(candidate.text.split())
    penalty = RANK_PENALTY * (candidate.source - 1)
    if _defines(candidate.text, term):
        penalty -= DEFINITION_BONUS
    if candidate.opening and candidate.source == 1:
        penalty -= OPENING_BONUS
    if _DANGLING.match(candidate.text):
        penalty += DANGLING_PENALTY
    if words > shape.max_words:
        penalty += LONG_PENALTY * (words - shape.max_words) * 3
    if shape is SHAPES["beginner"]:
        # Plain, short sentences that say what something is, before names, dates and quotations.
        penalty += LONG_PENALTY * max(0, words - 20) + JARGON_PENALTY * len(_JARGON.findall(candidate.text))
        if _EXPLAINING.search(candidate.text):
            penalty -= EXPLAINING_BONUS
    return -penalty


def select(question: str, sources: list[Source], embeddings, style: str = "concise",
           lead: str | None = None) -> list[Candidate]:
    """The sentences of an answer, in reading order: the best answer to the question first, or
    `lead` when it is one of them (the sentence stating the figure or title the question asks for)."""
    shape = SHAPES.get(style, SHAPES["concise"])
    opening = readable_sentence(lead) if lead is not None else None
    # The sentence stating the title asked for may quote the question's words: it stays.
    pool = [c for c in candidates(sources) if c.text == opening or not _quotes_question(c.text, question)]
    if not pool:
        return []
    vectors = np.asarray(embeddings.embed_documents([c.text for c in pool]))
    query = np.asarray(embeddings.embed_query(question))
    relevance = vectors @ query
    term = defined_term(question)
    scores = relevance + np.asarray([_prior(c, shape, term) for c in pool])
    chosen: list[int] = []
    per_source: dict[int, int] = {}
    defining = [i for i, c in enumerate(pool) if _defines(c.text, term)]
    leading = [i for i, c in enumerate(pool) if opening is not None and c.text == opening]
    if leading or defining:  # "What is X?" opens with what X is, best from the article about X
        first = leading[0] if leading else max(defining, key=lambda i: (term <= content_words(pool[i].title), scores[i]))
        chosen.append(first)
        per_source[pool[first].source] = 1
    while len(chosen) < min(shape.sentences, len(pool)):
        likeness = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(pool))
        ranked = np.argsort(-(scores - REPEAT_WEIGHT * likeness))
        pick = next((int(i) for i in ranked if int(i) not in chosen and likeness[i] < REPEAT_LIMIT
                     and per_source.get(pool[i].source, 0) < shape.per_source), None)
        if pick is None:
            break
        chosen.append(pick)
        per_source[pool[pick].source] = per_source.get(pool[pick].source, 0) + 1
    if style == "detailed":
        chosen = _with_disagreement(chosen, pool, scores, vectors)
    return _reading_order([pool[i] for i in chosen])


def _with_disagreement(chosen: list[int], pool: list[Candidate], scores: np.ndarray, vectors: np.ndarray) -> list[int]:
    """A detailed answer includes the main objection when the sources state one close enough
    to the question (it replaces the weakest other sentence)."""
    if len(chosen) < 2 or any(_DISAGREEMENT.search(pool[i].text) for i in chosen):
        return chosen
    floor = DISAGREEMENT_FLOOR * scores[chosen[0]]
    likeness = (vectors @ vectors[chosen].T).max(axis=1)
    options = [i for i in np.argsort(-scores) if _DISAGREEMENT.search(pool[i].text) and scores[i] >= floor
               and likeness[i] < REPEAT_LIMIT]
    return chosen[:-1] + [int(options[0])] if options else chosen


def _reading_order(chosen: list[Candidate]) -> list[Candidate]:
    """The best sentence first; the others grouped by article (in the order the articles first
    appear) and, within one, as the article orders them, so neighbouring sentences connect."""
    if not chosen:
        return []
    first, rest = chosen[0], chosen[1:]
    article_order = {first.source: 0}
    for c in rest:
        article_order.setdefault(c.source, len(article_order))
    return [first] + sorted(rest, key=lambda c: (article_order[c.source], c.position, c.index))

