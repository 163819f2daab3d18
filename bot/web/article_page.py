"""The app's own page of one article, with the cited passage highlighted, so that every claim can
be checked in one click: bundled and uploaded articles have no web page of their own, and a web
page may have changed since it was ingested.

The text comes from the index (the chunks, put back together). Everything from the document is
escaped before the little formatting the page adds (headings, paragraphs, list items), so no
markup from a document reaches the browser; the page runs no script either (its CSP forbids it):
the browser scrolls to the passage by its `#cited` anchor.
"""

from __future__ import annotations

import html
import re

from bot.core.types import Article
from bot.web.render import article_path, external_link, reference_html, safe_url

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
START, END = "\ue000", "\ue001"  # private-use characters that mark the passage until it is escaped
_HEADING = re.compile(r"(#{1,6})[ \t]+(.*)")
_HEADING_LINE = re.compile(f"^([{START}{END}]*#{{1,6}}[ \t].*)$", re.M)
# Emphasis opens after a space or a bracket and closes before one: identifiers such as
# window.__name or snake_case stay as they are.
_STRONG = re.compile(r"(?<![^\s(\[])(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?![^\s.,;:!?)\]])")
_EMPHASIS = re.compile(r"(?<![^\s(\[])([*_])(?=[^\s*_])(.+?)(?<=[^\s*_])\1(?![^\s.,;:!?)\]])")
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d+[.)])\s+")
_STYLE = """
body { font: 17px/1.6 system-ui, sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; color: #1f2937; }
header { border-bottom: 1px solid #ddd; margin-bottom: 1.5em; }
.meta, .back { color: #555; font-size: 0.9em; }
.summary { font-style: italic; }
mark { background: #fde68a; padding: 0.1em 0; }
mark#cited { scroll-margin-top: 30vh; }
.notice { color: #b45309; }
"""


def find_passage(text: str, quote: str) -> tuple[int, int] | None:
    """Where the quote is in the text, whatever the whitespace and emphasis marks (quotes are
    sentences with their line breaks collapsed and markup removed, or cut short with an
    ellipsis); None when it is not there."""
    words = quote.rstrip("…").split()
    if not words:
        return None
    marks = r"[*_`~]*"
    found = re.search(r"\s+".join(marks + re.escape(w) + marks for w in words), text)
    return found.span() if found else None


def _marked(text: str, span: tuple[int, int] | None) -> str:
    return text if span is None else text[:span[0]] + START + text[span[0]:span[1]] + END + text[span[1]:]


class _Marks:
    """Turns the passage's markers into <mark> tags; a passage that runs over several blocks is
    closed at the end of each and reopened in the next, so the HTML stays well formed."""

    def __init__(self) -> None:
        self.inside = False

    def __call__(self, escaped: str) -> str:
        out = ["<mark>"] if self.inside else []
        for part in re.split(f"([{START}{END}])", escaped):
            if part == START:
                out.append('<mark id="cited">')
                self.inside = True
            elif part == END:
                out.append("</mark>")
                self.inside = False
            else:
                out.append(part)
        return "".join(out) + ("</mark>" if self.inside else "")


def _inline(text: str) -> str:
    """Escaped text with its Markdown emphasis shown as emphasis (the marks are not left raw)."""
    escaped = html.escape(text)
    escaped = _STRONG.sub(r"<strong>\2</strong>", escaped)
    return _EMPHASIS.sub(r"<em>\2</em>", escaped)


def _lead(line: str) -> tuple[str, str]:
    """A line's leading passage markers apart from the rest, to read the Markdown behind them."""
    rest = line.lstrip(START + END)
    return line[:len(line) - len(rest)], rest


def _blocks(text: str, marks: _Marks, title: str = "") -> str:
    """Markdown read just enough to be readable: headings, paragraphs and list items, all escaped
    first. A first heading that repeats the title is left out (the page shows the title)."""
    text = _HEADING_LINE.sub(r"\n\1\n", text)  # a heading is a block of its own
    out = []
    for block in (b.strip() for b in re.split(r"\n\s*\n", text)):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        lead, rest = _lead(block)
        heading = _HEADING.fullmatch(rest)
        if heading:
            if not out and heading.group(2).strip() == title.strip() and START not in block and END not in block:
                continue
            level = max(len(heading.group(1)), 2)  # the page title is the one <h1>
            out.append(f"<h{level}>{marks(html.escape(lead + heading.group(2)))}</h{level}>")
        elif all(_LIST_ITEM.match(_lead(line)[1]) for line in lines):
            items = [_lead(line)[0] + _LIST_ITEM.sub("", _lead(line)[1], count=1) for line in lines]
            out.append("<ul>" + "".join(f"<li>{marks(_inline(item))}</li>" for item in items) + "</ul>")
        else:
            out.append(f"<p>{marks(_inline(' '.join(block.split())))}</p>")
    return "\n".join(out)


def _page(title: str, body: str, chat_url: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)} · AlignChat</title>'
            f"<style>{_STYLE}</style></head><body>"
            f'<p class="back"><a href="{html.escape(chat_url, quote=True)}">← AlignChat</a></p>{body}</body></html>')


def _further_reading(article: Article, related: dict[str, str], chat_url: str) -> str:
    """The original works the article explains (linked where they have a URL) and the related
    articles of the library (opened in the app, like a citation), so a reader can go on from here."""
    out = []
    if article.references:
        items = "".join(f"<li>{reference_html(ref)}</li>" for ref in article.references)
        out.append(f'<h2>Original works</h2><ul class="references">{items}</ul>')
    shown = [(doc_id, related[doc_id]) for doc_id in article.related if related.get(doc_id)]
    if shown:
        items = [f'<li><a href="{html.escape(chat_url + article_path(doc_id), quote=True)}">{html.escape(title)}</a></li>'
                 for doc_id, title in shown]
        out.append(f'<h2>Related articles</h2><ul class="related">{"".join(items)}</ul>')
    return f"<footer>{''.join(out)}</footer>" if out else ""


def article_html(article: Article, quote: str, chat_url: str, related: dict[str, str] | None = None) -> str:
    """The article's page: title, authors, date, its own URL if it has one, the summary and the
    text, with the quoted passage highlighted as <mark id="cited"> (or a note when the article no
    longer contains it), then the works it explains and the related articles (`related` maps the
    ids the index still holds to their titles)."""
    in_text = find_passage(article.text, quote)
    in_summary = None if in_text else find_passage(article.summary, quote)
    marks = _Marks()
    meta = " · ".join(html.escape(x) for x in (", ".join(article.authors), article.date) if x)
    url = safe_url(article.url)
    header = [f"<h1>{html.escape(article.title)}</h1>", f'<p class="meta">{meta}</p>' if meta else "",
              f'<p class="meta">{external_link(url, html.escape(url))}</p>' if url else ""]
    if quote and not (in_text or in_summary):
        header.append('<p class="notice">The cited passage is not in this article any more: it may have changed since.</p>')
    if article.summary:
        header.append(f'<div class="summary">{_blocks(_marked(article.summary, in_summary), marks)}</div>')
    text = _blocks(_marked(article.text, in_text), marks, article.title)
    footer = _further_reading(article, related or {}, chat_url)
    return _page(article.title, f"<header>{''.join(header)}</header><article>{text}</article>{footer}", chat_url)


def missing_html(doc_id: str, chat_url: str) -> str:
    """The page for an article the library does not hold (a citation from before it was removed)."""
    return _page("Not in the library", "<h1>Not in the library</h1>"
                 f"<p>The article <code>{html.escape(doc_id)}</code> is not in the library: it may have been removed "
                 "(an editor can restore it from the trash in the Library tab).</p>"
                 f'<p><a href="{html.escape(chat_url, quote=True)}">Back to the chat</a></p>', chat_url)


def unavailable_html(message: str, chat_url: str) -> str:
    """The page for a moment when the index cannot be read (its server restarting)."""
    return _page("Try again in a moment", f"<h1>Try again in a moment</h1><p>{html.escape(message)}</p>"
                 f'<p><a href="{html.escape(chat_url, quote=True)}">Back to the chat</a></p>', chat_url)


def login_html(chat_url: str) -> str:
    """The page for a visitor who has not logged in: the article stays unread."""
    return _page("Log in first", "<h1>Log in first</h1><p>This AlignChat asks for a login. "
                 f'<a href="{html.escape(chat_url, quote=True)}">Log in on the chat page</a>, then open the citation again.</p>',
                 chat_url)
