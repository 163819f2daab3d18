"""Answer events to safe HTML for the chat page.

Everything that comes from documents or users (titles, quotes, answer text, URLs) is escaped
here, and only http(s) links are rendered, so an ingested document cannot inject markup into
the page. The chat shows these strings as HTML with Markdown rendering off: escaped text can
then not turn into Markdown links or images either.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from bot.core.events import MESSAGES, Cited
from bot.core.markers import replace_markers
from bot.core.types import Citation, Reference

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def safe_url(url: str) -> str:
    """The URL if it is an http(s) link, else an empty string."""
    try:
        scheme = urlsplit(url.strip()).scheme
    except ValueError:  # e.g. a malformed IPv6 host
        return ""
    return url.strip() if scheme in {"http", "https"} else ""


def _external(url: str, text_html: str, title: str = "") -> str:
    """A link that opens outside the app; `text_html` is already escaped."""
    title_attr = f' title="{html.escape(title, quote=True)}"' if title else ""
    return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer"{title_attr}>'
            f"{text_html}</a>")


def link_markers(text: str, citations: list[Citation], anchor: str = "source") -> str:
    """Escape the answer text and turn its [n] markers into links: to the cited page when it
    has an http(s) URL, else to the source's entry in the Sources block (`#{anchor}-{n}`)."""
    by_n = {c.n: c for c in citations}

    def repl(n: int) -> str:
        c = by_n.get(n)
        if c is None:
            return ""
        if safe_url(c.url):
            return _external(c.link, f"[{c.n}]", c.title)
        return f'<a href="#{anchor}-{c.n}" title="{html.escape(c.title, quote=True)}">[{c.n}]</a>'

    return replace_markers(html.escape(text, quote=False), repl)


def paragraphs(text_html: str) -> str:
    """Blank lines become paragraphs and single newlines line breaks (the chat shows HTML)."""
    parts = [p.strip().replace("\n", "<br>") for p in _PARAGRAPH_BREAK.split(text_html.strip())]
    return "".join(f"<p>{p}</p>" for p in parts if p)


def _link(url: str, text: str) -> str:
    """Escaped text, linked when the URL is http(s)."""
    url = safe_url(url)
    return _external(url, html.escape(text)) if url else html.escape(text)


def _reference(r: Reference) -> str:
    by = f" — {', '.join(r.authors)}" if r.authors else ""
    year = f" ({r.year})" if r.year else ""
    return _link(r.url, r.title) + html.escape(by + year)


def sources_block(citations: list[Citation], label: str = "Sources", anchor: str = "source", note: str = "") -> str:
    """A collapsible list of the cited articles: title (linked to the quoted passage when the
    article has a URL), authors, date, the passage, and the works a bundled explainer explains;
    `note` says something about the answer as a whole (that it quotes the sources)."""
    if not citations:
        return ""
    items = []
    for c in citations:
        heading = _link(c.link if safe_url(c.url) else "", c.title)
        meta = " · ".join(html.escape(x) for x in (", ".join(c.authors), c.date) if x)
        refs = "".join(f"<li>{_reference(r)}</li>" for r in c.references)
        items.append(
            f'<li id="{anchor}-{c.n}"><b>[{c.n}]</b> {heading}' + (f" <small>{meta}</small>" if meta else "")
            + f"<blockquote>{html.escape(c.quote)}</blockquote>"
            + (f"<small>Explains:</small><ul>{refs}</ul>" if refs else "") + "</li>"
        )
    note_html = f'<p class="sources-note"><small>{html.escape(note)}</small></p>' if note else ""
    return (f'<details class="sources"><summary>{html.escape(label)} ({len(citations)})</summary>'
            f"{note_html}<ol>{''.join(items)}</ol></details>")


def answer_html(cited: Cited, anchor: str = "source") -> str:
    """A checked answer with linked markers, a note on unmatched sentences and its Sources block."""
    body = paragraphs(link_markers(cited.text, cited.citations, anchor))
    if cited.abstained:
        return f'<div class="answer abstained">{body}{sources_block(cited.related, "Closest sources", anchor)}</div>'
    note = ""
    if cited.unsupported_sentences:
        note = f"<p><small>⚠ {cited.unsupported_sentences} sentence(s) could not be matched to a source.</small></p>"
    quoted = MESSAGES[cited.reason] if cited.fallback and cited.reason else ""
    return f'<div class="answer">{body}{note}{sources_block(cited.citations, "Sources", anchor, quoted)}</div>'


def draft_html(text: str) -> str:
    """The answer while it streams: plain escaped text, markers not yet checked."""
    return (f'<div class="pending draft">{paragraphs(html.escape(text, quote=False))}'
            "<p><small><i>Writing… citations are checked at the end.</i></small></p></div>")


def pending_html(message: str) -> str:
    """What the chat shows before the answer starts (searching, generating)."""
    return f'<div class="pending"><p><i>{html.escape(message)}</i></p></div>'


def notice_html(message: str) -> str:
    """A problem shown in the chat in place of an answer (never a stack trace)."""
    return f'<p class="notice">⚠ {html.escape(message)}</p>'


def question_html(question: str) -> str:
    """The user's own question as the chat shows it."""
    return paragraphs(html.escape(question, quote=False))
