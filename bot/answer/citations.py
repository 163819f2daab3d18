"""Turns a generated answer into checked, numbered citations.

The model's `[n]` markers are normalised, markers that point at nothing are removed, every
sentence is checked against the passages it cites (a citation that does not support its
sentence is dropped; an uncited sentence gets the clearly best-supporting source), and sources
are numbered by article in order of first citation, keeping numbers across a conversation.
None of this depends on the model being smart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.core.markers import MARKER, split_markers, with_markers
from bot.core.text import content_words, overlap, sentences
from bot.core.types import Citation, Source

SUPPORTED = 0.5  # share of a sentence's content words a passage must contain to support it
KEEP = 0.25  # below this, a citation the model made is dropped as not supporting its sentence
MIN_WORDS = 3  # shorter sentences ("Yes.") are not claims worth checking
QUOTE_CHARS = 400


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


def _best_quote(claims: list[set[str]], source: Source) -> str:
    candidates = [s for p in source.passages for s in sentences(p.text)]
    if not candidates:
        return source.best.text[:300]
    words = set().union(*claims) if claims else set()
    best = max(candidates, key=lambda s: len(content_words(s) & words))
    return best if len(best) <= QUOTE_CHARS else best[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"


def check(answer: str, sources: list[Source], numbering: dict[str, int],
          idf: dict[str, float] | None = None) -> CheckedAnswer:
    """Verify `answer`, whose markers [1..len(sources)] refer to `sources` in order.

    `numbering` maps doc_id to the number the article has in this conversation; the result
    carries it extended with new cited articles in order of first citation (the argument is
    left as it was, so a draft that is thrown away numbers nothing). `idf` weighs rare words.
    """
    evidence = [content_words(" ".join(p.text for p in s.passages) + " " + s.best.title) for s in sources]
    checked: list[tuple[str, list[int]]] = []
    unsupported = supported = 0
    claims_by_source: dict[int, list[set[str]]] = {}
    seen: set[str] = set()
    for raw in _attach_leading_markers(sentences(answer)):
        bare, cited = split_markers(raw)
        if not bare or bare.lower() in seen:  # small models loop; say each thing once
            continue
        seen.add(bare.lower())
        claim = content_words(bare)
        valid = [n for n in cited if 1 <= n <= len(sources)]
        scores = {n: overlap(claim, evidence[n - 1], idf) for n in range(1, len(sources) + 1)}
        keep = [n for n in valid if scores[n] >= KEEP] if len(claim) >= MIN_WORDS else valid
        if not keep and len(claim) >= MIN_WORDS and scores:
            best = max(scores, key=scores.get)
            if scores[best] >= SUPPORTED:
                keep = [best]
        if len(claim) >= MIN_WORDS:
            if any(scores[n] >= SUPPORTED for n in keep):
                supported += 1
            else:
                unsupported += 1
        for n in keep:
            claims_by_source.setdefault(n, []).append(claim)
        checked.append((bare, keep))

    numbering = dict(numbering)
    local_to_global: dict[int, int] = {}
    for _, keep in checked:
        for n in keep:
            if n not in local_to_global:
                doc_id = sources[n - 1].doc_id
                numbering.setdefault(doc_id, len(numbering) + 1)
                local_to_global[n] = numbering[doc_id]
    text = " ".join(
        with_markers(bare, sorted({local_to_global[n] for n in keep})) for bare, keep in checked
    )
    citations = [
        Citation.from_source(number, sources[local - 1], _best_quote(claims_by_source.get(local, []), sources[local - 1]))
        for local, number in sorted(local_to_global.items(), key=lambda item: item[1])
    ]
    return CheckedAnswer(text=text, citations=citations, unsupported_sentences=unsupported,
                         supported_sentences=supported, numbering=numbering)
