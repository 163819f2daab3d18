"""The `[n]` citation marker grammar, read and written in one place.

Models write markers in many styles ([1], [1, 3], [1;3], [1-3], [(2)], [Source 2], [source: 2],
[1 and 3]); the citation check reads them all and writes plain `[n]` markers back, which the
page links, the evaluator counts and the metrics strip. Other families of models cite in forms of
their own (【1】, 【1†source】, (1), ^1, [^1], or a source's title in brackets): `normalise`
rewrites those into the bracket form first, so everything downstream reads one grammar.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MARKER = re.compile(
    r"\[\s*\(?\s*(?:sources?\s*:?\s*)?(\d+(?:\s*(?:,|;|-|–|and|&)\s*(?:sources?\s*:?\s*)?\d+)*)\s*\)?\s*\]",
    re.I,
)
# Forms other models write. "(1)" counts only where a marker would stand (before punctuation, the
# end or another marker), and only with one or two digits, so "(2022)" and "(1) first" stay text;
# "^1" not after a digit, so "10^6" stays a number.
_OTHER_FORMS = re.compile(
    r"\s*(?:【\s*(?P<lenticular>\d+(?:\s*[,，、]\s*\d+)*)\s*(?:†[^】]*)?】"
    r"|\[\^(?P<footnote>\d+)\]"
    r"|(?<!\d)\^(?P<caret>\d{1,2})(?!\d|\.\d)"
    r"|\((?:sources?\s*:?\s*)?(?P<paren>\d{1,2}(?:\s*,\s*\d{1,2})*)\)(?=\s*(?:[.,;:!?\[(]|$)))",
    re.I,
)
_BRACKETED = re.compile(r"\s*\[\s*(?:sources?\s*:\s*)?[\"'“]?([^\[\]\d\"'“”][^\[\]]{2,200}?)[\"'”]?\s*\](?!\()", re.I)
MAX_RANGE = 10  # [1-3] means 1, 2, 3; a wider "range" is two numbers, not dozens of sources


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", re.sub(r"(?i)sources?\s*:?", "", group)):
        bounds = re.split(r"\s*[-–]\s*", part.strip())
        if all(b.isdigit() for b in bounds) and bounds:
            lo, hi = int(bounds[0]), int(bounds[-1])
            out.extend(range(lo, hi + 1) if 0 < hi - lo < MAX_RANGE else [lo, hi] if lo != hi else [lo])
    return out


def _canonical(numbers: str) -> str:
    return " " + "".join(f"[{n}]" for n in re.findall(r"\d+", numbers))


def normalise(text: str, titles: list[str] | None = None) -> str:
    """The text with every marker form written as `[n]`; `titles` (source 1's first) turn a
    bracketed title such as "[Reward is not the optimization target]" into that source's number.
    A bracketed phrase that is no source's title is left as it is."""
    text = _OTHER_FORMS.sub(lambda m: _canonical(next(g for g in m.groups() if g is not None)), text)
    if titles:
        wanted = {" ".join(t.lower().split()): n for n, t in enumerate(titles, 1)}

        def by_title(match: re.Match) -> str:
            n = wanted.get(" ".join(match.group(1).lower().split()))
            return f" [{n}]" if n else match.group(0)

        text = _BRACKETED.sub(by_title, text)
    return text


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
