"""A chat as a Markdown document with its sources, for copying one answer or downloading the
whole conversation. Only http(s) URLs are written out, like on the page."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.types import Citation
from bot.web.render import safe_url
from bot.web.session import ChatSession, Turn


def _source_lines(c: Citation) -> list[str]:
    meta = " · ".join(x for x in (", ".join(c.authors), c.date, safe_url(c.url)) if x)
    lines = [f"[{c.n}] {c.title}" + (f" — {meta}" if meta else "")]
    lines += [f"> {line}" for line in c.quote.splitlines() if line.strip()]
    for r in c.references:
        by = f" — {', '.join(r.authors)}" if r.authors else ""
        year = f" ({r.year})" if r.year else ""
        url = f" {safe_url(r.url)}" if safe_url(r.url) else ""
        lines.append(f"  - explains: {r.title}{by}{year}{url}")
    return lines


def answer_markdown(turn: Turn) -> str:
    """One answer with its numbered sources, as text a reader can paste anywhere."""
    lines = [turn.answer.strip()]
    if turn.citations:
        lines += ["", "Sources:"]
        for c in turn.citations:
            lines += _source_lines(c)
    return "\n".join(lines) + "\n"


def conversation_markdown(session: ChatSession, answered_by: str) -> str:
    """The whole conversation, each question a heading followed by its answer and sources."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# AlignChat conversation", "", f"Exported {stamp}; answers by {answered_by}.", ""]
    for number, turn in enumerate(session.turns, start=1):
        lines += [f"## {number}. {' '.join(turn.question.split())}", "", answer_markdown(turn)]
    return "\n".join(lines)
