"""Answer events to safe HTML for the chat page.

Everything that comes from documents or users (titles, quotes, answer text, URLs) is escaped
here, and only http(s) links are rendered, so an ingested document cannot inject markup into
the page. The chat shows these strings as HTML with Markdown rendering off: escaped text can
then not turn into Markdown links or images either. Citations open the app's own page of the
article at the quoted passage (bot.web.article_page): bundled and uploaded articles have no
other page, and a web page may have changed since it was ingested.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

from bot.core.events import Cited, answer_notes
from bot.core.markers import replace_markers
from bot.core.types import Citation, Reference

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
ARTICLE_ROUTE = "/article"  # the app's page of one article: ARTICLE_ROUTE/{doc_id}?quote=...


def safe_url(url: str) -> str:
    """The URL if it is an http(s) link, else an empty string."""
    try:
        scheme = urlsplit(url.strip()).scheme
    except ValueError:  # e.g. a malformed IPv6 host
        return ""
    return url.strip() if scheme in {"http", "https"} else ""


def external_link(url: str, text_html: str, title: str = "") -> str:
    """A link that opens outside the app; `text_html` is already escaped."""
    title_attr = f' title="{html.escape(title, quote=True)}"' if title else ""
    return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer"{title_attr}>'
            f"{text_html}</a>")


def article_url(c: Citation) -> str:
    """The app's page of the cited article, scrolled to the quote (highlighted there). Relative,
    so it works wherever the app is mounted; the doc_id is one path segment, whatever it holds."""
    return f"{article_path(c.doc_id)}?quote={quote(c.quote, safe='')}#cited"


def article_path(doc_id: str) -> str:
    """The app's page of an article, relative to the chat page."""
    return f"{ARTICLE_ROUTE.lstrip('/')}/{quote(doc_id, safe='')}"


def _in_app(c: Citation, text_html: str) -> str:
    """A link to the cited passage on the app's article page, in a new tab; `text_html` is escaped."""
    return (f'<a href="{html.escape(article_url(c), quote=True)}" target="_blank" rel="noopener" '
            f'title="{html.escape(c.title, quote=True)}">{text_html}</a>')


def link_markers(text: str, citations: list[Citation]) -> str:
    """Escape the answer text and turn its [n] markers into links to the cited passage."""
    by_n = {c.n: c for c in citations}

    def repl(n: int) -> str:
        c = by_n.get(n)
        return _in_app(c, f"[{c.n}]") if c else ""

    return replace_markers(html.escape(text, quote=False), repl)


def paragraphs(text_html: str) -> str:
    """Blank lines become paragraphs and single newlines line breaks (the chat shows HTML)."""
    parts = [p.strip().replace("\n", "<br>") for p in _PARAGRAPH_BREAK.split(text_html.strip())]
    return "".join(f"<p>{p}</p>" for p in parts if p)


def _link(url: str, text: str) -> str:
    """Escaped text, linked when the URL is http(s)."""
    url = safe_url(url)
    return external_link(url, html.escape(text)) if url else html.escape(text)


def reference_html(r: Reference) -> str:
    """An original work: its title (linked when it has a web address), authors and year."""
    by = f" — {', '.join(r.authors)}" if r.authors else ""
    year = f" ({r.year})" if r.year else ""
    return _link(r.url, r.title) + html.escape(by + year)


def sources_block(citations: list[Citation], label: str = "Sources", anchor: str = "source", note: str = "") -> str:
    """A collapsible list of the cited articles: title (linked to the quoted passage on the app's
    article page, and for a web article to the original page too, with a text fragment), authors,
    date, the passage, and the works a bundled explainer explains; `note` says something about
    the answer as a whole (that it quotes the sources)."""
    if not citations:
        return ""
    items = []
    for c in citations:
        heading = _in_app(c, html.escape(c.title))
        if safe_url(c.url):
            heading += " <small>" + external_link(c.link, "original ↗", "the article where it was published") + "</small>"
        meta = " · ".join(html.escape(x) for x in (", ".join(c.authors), c.date) if x)
        refs = "".join(f"<li>{reference_html(r)}</li>" for r in c.references)
        items.append(
            f'<li id="{anchor}-{c.n}"><b>[{c.n}]</b> {heading}' + (f" <small>{meta}</small>" if meta else "")
            + f"<blockquote>{html.escape(c.quote)}</blockquote>"
            + (f"<small>Explains:</small><ul>{refs}</ul>" if refs else "") + "</li>"
        )
    note_html = f'<p class="sources-note"><small>{html.escape(note)}</small></p>' if note else ""
    return (f'<details class="sources"><summary>{html.escape(label)} ({len(citations)})</summary>'
            f"{note_html}<ol>{''.join(items)}</ol></details>")


def answer_html(cited: Cited, anchor: str = "source") -> str:
    """A checked answer with linked markers and its Sources block, which says how the answer was
    put together (quoted from the sources, sentences of the draft left out)."""
    body = paragraphs(link_markers(cited.text, cited.citations))
    if cited.abstained:
        return f'<div class="answer abstained">{body}{sources_block(cited.related, "Closest sources", anchor)}</div>'
    return f'<div class="answer">{body}{sources_block(cited.citations, "Sources", anchor, " ".join(answer_notes(cited)))}</div>'


def partial_html(text: str, citations: list[Citation], words_drafted: int) -> str:
    """The answer while it is written: the sentences checked so far (they stay as shown, markers
    linked) and how far the model has got. The draft itself is never shown unchecked."""
    progress = f" ({words_drafted} words drafted)" if words_drafted else ""
    return (f'<div class="pending partial"><div class="checked">{paragraphs(link_markers(text, citations))}</div>'
            f"<p><small><i>Writing{progress}… each sentence appears once it is checked against the sources."
            "</i></small></p></div>")


def pending_html(message: str) -> str:
    """What the chat shows before the answer starts (searching, generating)."""
    return f'<div class="pending"><p><i>{html.escape(message)}</i></p></div>'


def notice_html(message: str) -> str:
    """A problem shown in the chat in place of an answer (never a stack trace)."""
    return f'<p class="notice">⚠ {html.escape(message)}</p>'


def question_html(question: str) -> str:
    """The user's own question as the chat shows it."""
    return paragraphs(html.escape(question, quote=False))
