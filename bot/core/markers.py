"""The `[n]` citation marker grammar, read and written in one place.

Models write markers in many styles ([1], [1, 3], [1;3], [1-3], [(2)], [Source 2], [source: 2],
[1 and 3]); the citation check reads them all and writes plain `[n]` markers back, which the
page links, the evaluator counts and the metrics strip.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MARKER = re.compile(
    r"\[\s*\(?\s*(?:sources?\s*:?\s*)?(\d+(?:\s*(?:,|;|-|–|and|&)\s*(?:sources?\s*:?\s*)?\d+)*)\s*\)?\s*\]",
    re.I,
)
MAX_RANGE = 10  # [1-3] means 1, 2, 3; a wider "range" is two numbers, not dozens of sources


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", re.sub(r"(?i)sources?\s*:?", "", group)):
        bounds = re.split(r"\s*[-–]\s*", part.strip())
        if all(b.isdigit() for b in bounds) and bounds:
            lo, hi = int(bounds[0]), int(bounds[-1])
            out.extend(range(lo, hi + 1) if 0 < hi - lo < MAX_RANGE else [lo, hi] if lo != hi else [lo])
    return out


def marker_numbers(text: str) -> list[int]:
    """Every source number the text's markers name, in order, repeats included."""
    return [n for match in MARKER.finditer(text) for n in _numbers(match.group(1))]


def split_markers(sentence: str) -> tuple[str, list[int]]:
    """The sentence without its citation markers, and the numbers they held (in order, once each)."""
    numbers = list(dict.fromkeys(marker_numbers(sentence)))
    bare = MARKER.sub("", sentence)
    bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
    return " ".join(bare.split()), numbers


def strip_markers(text: str) -> str:
    """The text with its markers replaced by spaces (for word-level comparisons)."""
    return MARKER.sub(" ", text)


def replace_markers(text: str, render: Callable[[int], str]) -> str:
    """Each number a marker names replaced by `render(n)` (which may return "" to drop it)."""
    return MARKER.sub(lambda match: "".join(render(n) for n in _numbers(match.group(1))), text)


def with_markers(sentence: str, numbers: list[int]) -> str:
    """The sentence with `[n]` markers written before its final punctuation."""
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    match = re.search(r"[.!?]+[\"')]*$", sentence)
    if match:
        return f"{sentence[:match.start()]} {marks}{sentence[match.start():]}"
    return f"{sentence} {marks}"
