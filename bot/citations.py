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

from bot.retrieval import Source
from bot.schema import Citation
from bot.text import content_words, overlap, sentences

# [1], [1, 3], [1;3], [1-3], [(2)], [Source 2], [source: 2], [1 and 3]
_MARKER = re.compile(
    r"\[\s*\(?\s*(?:sources?\s*:?\s*)?(\d+(?:\s*(?:,|;|-|–|and|&)\s*(?:sources?\s*:?\s*)?\d+)*)\s*\)?\s*\]",
    re.I,
)
SUPPORTED = 0.5  # share of a sentence's content words a passage must contain to support it
KEEP = 0.25  # below this, a citation the model made is dropped as not supporting its sentence
MIN_WORDS = 3  # shorter sentences ("Yes.") are not claims worth checking


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    unsupported_sentences: int
    supported_sentences: int = 0
    numbering: dict[str, int] = field(default_factory=dict)  # the conversation's, updated


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", re.sub(r"(?i)sources?\s*:?", "", group)):
        bounds = re.split(r"\s*[-–]\s*", part.strip())
        if all(b.isdigit() for b in bounds) and bounds:
            lo, hi = int(bounds[0]), int(bounds[-1])
            out.extend(range(lo, hi + 1) if 0 < hi - lo < 10 else [lo, hi] if lo != hi else [lo])
    return out


def split_markers(sentence: str) -> tuple[str, list[int]]:
    """The sentence without its citation markers, and the numbers they held (in order)."""
    numbers: list[int] = []
    for match in _MARKER.finditer(sentence):
        numbers.extend(n for n in _numbers(match.group(1)) if n not in numbers)
    bare = _MARKER.sub("", sentence)
    bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
    return " ".join(bare.split()), numbers


def _attach_leading_markers(parts: list[str]) -> list[str]:
    """A marker after the full stop ("... target. [1] Next") belongs to the sentence before it."""
    out: list[str] = []
    for part in parts:
        lead = re.match(r"^((?:\s*" + _MARKER.pattern + r")+)\s*", part, re.I)
        if lead and out:
            out[-1] = out[-1] + " " + lead.group(1).strip()
            part = part[lead.end():]
        if part.strip():
            out.append(part)
    return out


def _with_markers(sentence: str, numbers: list[int]) -> str:
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    match = re.search(r"[.!?]+[\"')]*$", sentence)
    if match:
        return f"{sentence[:match.start()]} {marks}{sentence[match.start():]}"
    return f"{sentence} {marks}"


def _best_quote(claims: list[set[str]], source: Source) -> str:
    candidates = [s for p in source.passages for s in sentences(p.text)]
    if not candidates:
        return source.best.text[:300]
    words = set().union(*claims) if claims else set()
    best = max(candidates, key=lambda s: len(content_words(s) & words))
    return best if len(best) <= 400 else best[:400].rsplit(" ", 1)[0] + "…"


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
        _with_markers(bare, sorted({local_to_global[n] for n in keep})) for bare, keep in checked
    )
    citations = []
    for local, number in sorted(local_to_global.items(), key=lambda item: item[1]):
        source = sources[local - 1]
        best = source.best
        citations.append(Citation(
            n=number, doc_id=source.doc_id, title=best.title, authors=best.authors, url=best.url,
            date=best.date, quote=_best_quote(claims_by_source.get(local, []), source),
            references=best.references,
        ))
    return CheckedAnswer(text=text, citations=citations, unsupported_sentences=unsupported,
                         supported_sentences=supported, numbering=numbering)
