"""Answer events to safe Markdown/HTML for the chat page.

Everything that comes from documents (titles, quotes, URLs) is escaped here, and only
http(s) links are rendered, so an ingested document cannot inject markup into the page.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from bot.schema import Citation, Reference


def safe_url(url: str) -> str:
    """The URL if it is an http(s) link, else an empty string."""
    return url if urlsplit(url.strip()).scheme in {"http", "https"} else ""


def link_markers(text: str, citations: list[Citation]) -> str:
    """Escape the answer text and turn its [n] markers into links to the cited sources."""
    by_n = {c.n: c for c in citations}

    def repl(match: re.Match[str]) -> str:
        n = int(match.group(1))
        c = by_n.get(n)
        if c is None:
            return ""
        target = html.escape(c.link, quote=True) if safe_url(c.url) else f"#source-{n}"
        return f'<a href="{target}" title="{html.escape(c.title, quote=True)}">[{n}]</a>'

    return re.sub(r"\[(\d+)\]", repl, html.escape(text, quote=False))


def _link(url: str, text: str) -> str:
    """Escaped text, linked when the URL is http(s)."""
    url = safe_url(url)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>' if url else html.escape(text)


def _reference(r: Reference) -> str:
    by = f" — {', '.join(r.authors)}" if r.authors else ""
    year = f" ({r.year})" if r.year else ""
    return _link(r.url, r.title) + html.escape(by + year)


def sources_block(citations: list[Citation], label: str = "Sources") -> str:
    if not citations:
        return ""
    items = []
    for c in citations:
        heading = _link(c.link, c.title)
        meta = " · ".join(html.escape(x) for x in (", ".join(c.authors), c.date) if x)
        refs = "".join(f"<li>{_reference(r)}</li>" for r in c.references)
        items.append(
            f'<li id="source-{c.n}"><b>[{c.n}]</b> {heading}' + (f" <small>{meta}</small>" if meta else "")
            + f"<blockquote>{html.escape(c.quote)}</blockquote>"
            + (f"<small>Explains:</small><ul>{refs}</ul>" if refs else "") + "</li>"
        )
    return f"<details><summary>{html.escape(label)} ({len(citations)})</summary><ol>{''.join(items)}</ol></details>"
