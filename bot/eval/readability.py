"""Does an answer read as an answer? A check of what a reader would stumble on.

It looks at the text a reader sees, independently of how the answer was built: markup left
from the source (HTML tags, emphasis marks, LaTeX, callouts, footnotes, headings), a heading
or a question standing as a sentence, a list stub, a sentence about an article instead of
about the field, and a disclaimer in front of the answer. The evaluator counts answers with
any of these, and the test suite runs it over every bundled question.
"""

from __future__ import annotations

import re

from bot.core.markers import strip_markers
from bot.core.text import ENDS_AS_STATEMENT, sentences

_MARKUP = {
    "html tag": re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>"),
    "emphasis marks": re.compile(r"\*\*|__|(?<!\w)\*(?=\w)|(?<!\w)_(?=\w)"),
    "code marks": re.compile(r"`"),
    "latex": re.compile(r"\$(?=[^\s$\d])[^$]*?\S\$|\\[a-zA-Z]+\{|\\(?:alpha|beta|pi|theta|sum|frac|le|ge|cdot|mathbb)\b"),
    "callout": re.compile(r"\[![A-Za-z-]+\]"),
    "footnote marker": re.compile(r"\[\^[^\]]+\]"),
    "markdown heading": re.compile(r"(?:^|\n)\s*#{1,6}\s"),
    "markdown link": re.compile(r"\]\((?:https?:|/|#)"),
    "list bullet": re.compile(r"(?:^|\n)\s*(?:[-*+•]|\d+[.)])\s"),
}
_DISCLAIMER = re.compile(
    r"^\s*(?:the model's draft|here is what|here's what|according to the sources,? here|note:|disclaimer|"
    r"as an ai\b|i (?:could not|couldn't|cannot) (?:match|verify)|the sources say directly)",
    re.I,
)
_ABOUT_AN_ARTICLE = re.compile(
    r"^(?:explains|covers|describes|summari[sz]es|introduces|surveys|reviews|outlines|discusses)\b"
    r"|\bthis (?:article|section|post|page|explainer|essay|overview)\b|\bthe library'?s? (?:article|explainer)s?\b"
    r"|\bin this (?:article|section|post)\b|\bsee \"",
    re.I,
)


def readability_problems(answer: str) -> list[str]:
    """What would make a reader stumble in `answer` (empty: it reads as prose)."""
    problems = [name for name, pattern in _MARKUP.items() if pattern.search(answer)]
    if _DISCLAIMER.search(answer):
        problems.append("disclaimer prefix")
    for sentence in sentences(strip_markers(answer)):
        bare = " ".join(sentence.split())
        if bare.endswith("?"):
            problems.append(f"question or heading as a sentence: {bare[:80]!r}")
        elif bare.endswith(":"):
            problems.append(f"list stub: {bare[:80]!r}")
        elif not ENDS_AS_STATEMENT.search(bare):
            problems.append(f"not a sentence: {bare[:80]!r}")
        if _ABOUT_AN_ARTICLE.search(bare):
            problems.append(f"sentence about an article: {bare[:80]!r}")
    return problems
