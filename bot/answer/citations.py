"""Turns a generated answer into checked, numbered citations, one sentence at a time.

The model's markers are normalised, markers that point at nothing are removed, every sentence
is checked against the passages it cites (a citation that does not support its sentence is
dropped; an uncited sentence gets the source that clearly supports it), and sources
are numbered by article in order of first citation, keeping numbers across a conversation.
Sentences are checked as soon as they are complete, so the page shows the checked answer while
the model is still writing, and what a reader watched is what stays. A model's sentences go
to the verifier (bot.answer.support), which recognises paraphrase and catches a changed name,
number or negation; the sources' own sentences need only their words matched. None of this
depends on the model being smart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.answer.support import COVERED, MIN_COVERED, Verifier
from bot.core.markers import MARKER, normalise, split_markers, with_markers
from bot.core.markup import plain
from bot.core.text import ENDS_AS_STATEMENT, WordRarity, content_words, overlap, sentences
from bot.core.types import Citation, Source

SUPPORTED = 0.5  # share of a sentence's content words a passage must contain to support it
KEEP = 0.25  # below this, a citation the model made is dropped as not supporting its sentence
MIN_OVERLAP = 0.15  # a source sharing fewer of a claim's rare words is not worth asking the verifier about
SMALL_MODEL_COVERED = COVERED  # a small model's sentence must also share most of its rare words with the source
ATTRIBUTION_TRIES = 2  # other sources tried for a claim its citations do not support
MIN_WORDS = 3  # shorter sentences ("Yes.") are not claims worth checking
QUOTE_CHARS = 400
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OPENS_SENTENCE = re.compile(r"^[\"'“‘(]?[A-Za-z0-9]")


@dataclass
class CheckedSentence:
    text: str  # with the conversation's [n] markers
    supported: bool  # a claim a cited passage supports (False for a short sentence such as "Yes.")


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    unsupported_sentences: int
    supported_sentences: int = 0
    numbering: dict[str, int] = field(default_factory=dict)  # the conversation's, updated


def _attach_leading_markers(parts: list[str]) -> list[str]:
    """A marker after the full stop ("... target. [1] Next") belongs to the sentence before it."""
    out: list[str] = []
    for part in parts:
        lead = re.match(r"^((?:\s*" + MARKER.pattern + r")+)\s*", part, re.I)
        if lead and out:
            out[-1] = out[-1] + " " + lead.group(1).strip()
            part = part[lead.end():]
        if part.strip():
            out.append(part)
    return out


def split_sentences(text: str, titles: list[str] | None = None) -> list[str]:
    """The sentences of an answer, each with the markers that follow it, in the `[n]` form
    whatever form the model wrote (`titles` are the sources', for markers that name one)."""
    return _attach_leading_markers(sentences(normalise(text, titles)))


def complete_sentences(text: str, titles: list[str] | None = None) -> list[str]:
    """The sentences of a partial answer that can no longer change: each is followed by the
    start of another. A last part that is not yet a word or two (it may be a marker still being
    written, which belongs to the sentence before) keeps that sentence open too."""
    parts = split_sentences(text, titles)
    last = parts[-1].lstrip() if parts else ""
    started = bool(_OPENS_SENTENCE.match(last)) and len(last.split()) > 1
    return parts[:-1] if started else parts[:-2]


def _best_quote(claims: list[set[str]], source: Source) -> str:
    candidates = [s for p in source.passages for s in sentences(plain(p.text))]
    if not candidates:
        return plain(source.best.text)[:300]
    words = set().union(*claims) if claims else set()
    best = max(candidates, key=lambda s: len(content_words(s) & words))
    return best if len(best) <= QUOTE_CHARS else best[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"


class Checker:
    """Checks one answer sentence by sentence against the sources it was written from.

    `numbering` maps doc_id to the number the article has in this conversation; the result
    carries it extended with new cited articles in order of first citation (the argument is
    left as it was, so an answer that is not kept numbers nothing). `idf` weighs rare words.
    With `drop_unsupported` (for a model's draft), a claim no source supports is left out of the
    answer (and counted), and so is a sentence too short to be checked.
    """

    def __init__(self, sources: list[Source], numbering: dict[str, int], idf: WordRarity | None = None,
                 drop_unsupported: bool = False, verifier: Verifier | None = None, small_model: bool = False) -> None:
        self.sources = sources
        self.verifier = verifier
        self._min_covered = SMALL_MODEL_COVERED if small_model else MIN_COVERED
        self._passages = [[plain(p.text) for p in s.passages] for s in sources]
        self.titles = [s.best.title for s in sources]  # for markers that name a source by its title
        self.idf = idf
        self.drop_unsupported = drop_unsupported
        texts = [" ".join(p.text for p in s.passages) + " " + s.best.title for s in sources]
        self._evidence = [content_words(text) for text in texts]
        self._numbers = [set(_NUMBER.findall(text)) for text in texts]
        self._numbering = dict(numbering)
        self._local_to_global: dict[int, int] = {}
        self._claims_by_source: dict[int, list[set[str]]] = {}
        self._seen: set[str] = set()
        self.sentences: list[CheckedSentence] = []
        self.unsupported = 0
        self.supported = 0

    def add(self, raw: str, quoted: bool = False) -> CheckedSentence | None:
        """Check one sentence (with its markers); None when it adds nothing to the answer (a
        repeat, which small models write, or a claim left out as unsupported). A `quoted`
        sentence is the sources' own, so its words alone show where it comes from."""
        bare, cited = split_markers(raw)
        if self.drop_unsupported:
            bare = self._without_title(bare)
        if not bare or bare.lower() in self._seen:
            return None
        self._seen.add(bare.lower())
        if self.drop_unsupported and not ENDS_AS_STATEMENT.search(bare):
            self.unsupported += 1  # a question, a heading or a cut-off line in a draft is no answer
            return None
        claim = content_words(bare)
        is_claim = len(claim) >= MIN_WORDS
        numbers = set(_NUMBER.findall(bare))
        valid = [n for n in cited if 1 <= n <= len(self.sources)]
        scores = {n: overlap(claim, self._evidence[n - 1], self.idf) for n in range(1, len(self.sources) + 1)}
        if self.verifier is not None and is_claim and not quoted:
            keep = self._verified(bare, valid, scores)
            supported = bool(keep)
            if not supported:  # shown only when nothing is dropped: with the citations its words allow
                keep = [n for n in valid if scores[n] >= KEEP and numbers <= self._numbers[n - 1]]
        else:
            keep = [n for n in valid if scores[n] >= KEEP] if is_claim else valid
            if not keep and is_claim and scores:
                best = max(scores, key=scores.get)
                if scores[best] >= SUPPORTED:
                    keep = [best]
            # A number (a year, a count) must be in the source as written: overlap cannot tell 2034 from 2022.
            keep = [n for n in keep if numbers <= self._numbers[n - 1]]
            supported = is_claim and any(scores[n] >= SUPPORTED for n in keep)
        if is_claim and not supported:
            self.unsupported += 1
            if self.drop_unsupported:
                return None
        elif supported:
            self.supported += 1
        elif self.drop_unsupported:
            return None  # "The answer is no." or "For instance:" in a draft says nothing checked
        for n in keep:
            self._claims_by_source.setdefault(n, []).append(claim)
            if n not in self._local_to_global:
                doc_id = self.sources[n - 1].doc_id
                self._numbering.setdefault(doc_id, len(self._numbering) + 1)
                self._local_to_global[n] = self._numbering[doc_id]
        checked = CheckedSentence(with_markers(bare, sorted({self._local_to_global[n] for n in keep})), supported)
        self.sentences.append(checked)
        return checked

    def _verified(self, claim: str, cited: list[int], scores: dict[int, float]) -> list[int]:
        """The cited sources that support the claim; when none does (or the model cited none),
        the one other source that clearly does, tried in order of shared rare words."""
        keep = [n for n in cited if scores[n] >= MIN_OVERLAP and self._judge(claim, n)]
        if keep:
            return keep
        others = sorted((n for n in scores if n not in cited and scores[n] >= MIN_OVERLAP), key=scores.get, reverse=True)
        return next(([n] for n in others[:ATTRIBUTION_TRIES] if self._judge(claim, n)), [])

    def _judge(self, claim: str, n: int) -> bool:
        return self.verifier.judge(claim, self._passages[n - 1], self.idf, self._min_covered).supported

    def _without_title(self, sentence: str) -> str:
        """A small model often starts a sentence with the title of the note it copies."""
        for source in self.sources:
            title = source.best.title
            if sentence.startswith(title + " ") and sentence[len(title) + 1:][:1].isupper():
                return sentence[len(title) + 1:]
        return sentence

    @property
    def citations(self) -> list[Citation]:
        """The sources cited so far, numbered as the conversation numbers them."""
        return [
            Citation.from_source(number, self.sources[local - 1],
                                 _best_quote(self._claims_by_source.get(local, []), self.sources[local - 1]))
            for local, number in sorted(self._local_to_global.items(), key=lambda item: item[1])
        ]

    def result(self) -> CheckedAnswer:
        return CheckedAnswer(text=" ".join(s.text for s in self.sentences), citations=self.citations,
                             unsupported_sentences=self.unsupported, supported_sentences=self.supported,
                             numbering=dict(self._numbering))


def check(answer: str, sources: list[Source], numbering: dict[str, int],
          idf: WordRarity | None = None) -> CheckedAnswer:
    """Verify a whole `answer`, whose markers [1..len(sources)] refer to `sources` in order."""
    checker = Checker(sources, numbering, idf)
    for raw in split_sentences(answer, checker.titles):
        checker.add(raw)
    return checker.result()
