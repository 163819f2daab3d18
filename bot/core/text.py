"""Sentence splitting and content-word matching shared by citation checking and extraction."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

import Stemmer

STEMMER = Stemmer.Stemmer("english")  # one English stemmer for keyword search and word matching
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*|\d+(?:\.\d+)?")
# A full stop after a lone capital is an initial ("Jan H. Kirchner"), not the end of a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
# A statement ends with a full stop or an exclamation mark, perhaps inside quotes or brackets: not
# a question, a heading, or a sentence cut off where a chunk boundary fell.
ENDS_AS_STATEMENT = re.compile(r"[.!][\"'”’)]*$")
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves one two may
    might must shall us many much often well even still yet however thus therefore etc""".split()
)


def sentences(text: str) -> list[str]:
    parts = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)", text):
        block = " ".join(block.split())
        if block:
            parts.extend(s.strip() for s in _SENTENCE_END.split(block) if s.strip())
    return parts


def join_overlapping(parts: list[str], min_overlap: int = 20) -> str:
    """Neighbouring chunks of one section joined back into its text: where a chunk starts with
    the end of the one before (the chunker's overlap), that repeated run is kept once."""
    text = ""
    for part in parts:
        if not text:
            text = part
            continue
        longest = next((k for k in range(min(len(text), len(part)), min_overlap - 1, -1) if text.endswith(part[:k])), 0)
        text = text + part[longest:] if longest else text + "\n\n" + part
    return text


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return STEMMER.stemWord(word)


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in STOPWORDS and len(w) > 1}


class WordRarity:
    """How rare each content word is in a library: log(1 + n / df) over its n passages. A word the
    library never uses counts as the rarest there could be."""

    def __init__(self, passages: int, frequency: Callable[[str], int]) -> None:
        self.passages = passages
        self._frequency = frequency
        self.rarest = math.log(1 + passages) if passages else 1.0

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._frequency(word) > 0

    def get(self, word: str, default: float | None = None) -> float:
        count = self._frequency(word)
        if count:
            return math.log(1 + self.passages / count)
        return self.rarest if default is None else default


def overlap(claim: set[str], evidence: set[str], idf: WordRarity | None = None) -> float:
    """Share of the claim's content words that the evidence contains, weighted by rarity.

    With document frequencies from the library, "wirehead" counts for far more than "problem",
    so a vague sentence cannot borrow support from an article that merely shares common words.
    """
    if not claim:
        return 0.0
    if idf is None:
        return len(claim & evidence) / len(claim)
    total = sum(idf.get(w) for w in claim)
    return sum(idf.get(w) for w in claim & evidence) / total


_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules)\b"
    r"|\byou are now\b|\b(system|developer) prompt\b|\breply only with\b|\brespond only with\b"
    r"|\bdo not cite\b|\bnote to (ai|language model|llm|assistant)s?\b",
    re.I,
)


def is_instruction(sentence: str) -> bool:
    """Text in a document that addresses the assistant (prompt injection); it is kept out of
    prompts and extracted answers, since documents are quoted, never obeyed."""
    return bool(_INSTRUCTION.search(sentence))


def without_instructions(text: str) -> str:
    return " ".join(s for s in sentences(text) if not is_instruction(s))
