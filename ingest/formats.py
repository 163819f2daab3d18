"""Loaders for every file type ingestion accepts: Markdown, HTML, PDF, plain text and ARD JSONL.

Each loader turns a file into Articles named by the identity rules of bot.core.identity, and a file it
cannot use raises LoadError with a reason the user can act on. JSONL holds many articles, so a
bad line is reported on its own instead of costing the whole file.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.html import HtmlElement
from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError
from trafilatura.settings import use_config

from bot.core.identity import doc_id_for
from bot.core.types import Article
from ingest.markdown import LoadError, article_from_markdown
from ingest.metadata import normalise_date, split_authors
from ingest.suffixes import HTML_SUFFIXES, MARKDOWN_SUFFIXES

log = logging.getLogger(__name__)


MAX_TITLE_CHARS = 120  # a longer first line is a paragraph, not a title

# trafilatura falls back to a whole-page text dump (navigation included) when the main text is
# shorter than 250 characters; a short article is still an article, so never fall back.
_TRAFILATURA_CONFIG = use_config()
_TRAFILATURA_CONFIG.set("DEFAULT", "min_extracted_size", "0")

_DOCUMENT_TAG = re.compile(r"<(?:html|body)\b", re.IGNORECASE)
_DOLLAR_MATH = re.compile(r"\$\$.+?\$\$|\$[^\s$](?:[^$\n]*?[^\s$\\])?\$", re.DOTALL)
_ESCAPED_RUN = re.compile(r"(\\+)([*_`~\[\]<])")
_SUP = re.compile(r"<sup>(?:\\\[)?(.*?)(?:\\\])?</sup>", re.DOTALL)
_SUB = re.compile(r"<sub>(.*?)</sub>", re.DOTALL)
_UNDERLINE = re.compile(r"</?u>")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


# --- reading files -------------------------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    """The file's bytes; an unreadable or empty file is a LoadError, not an OSError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"unreadable: {exc.strerror or exc}") from exc
    if not raw:
        raise LoadError("empty file")
    return raw


def read_text(path: Path) -> str:
    """A text file as str with `\\n` line ends; refuses binary and non-UTF-8 files with a fix."""
    raw = read_bytes(path)
    if b"\x00" in raw[:8192]:
        raise LoadError(f"binary file, not text: is it really a {path.suffix or 'text'} file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text (byte {exc.start}): convert it to UTF-8") from exc
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


# --- shared metadata helpers -----------------------------------------------------------------


def title_from_text(text: str, fallback: str) -> str:
    """The first non-empty line when it is short enough to be a title, else `fallback`."""
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) < MAX_TITLE_CHARS else fallback
    return fallback


# --- HTML ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself: its own meta tags first, trafilatura's guesses second."""

    title: str = ""
    authors: tuple[str, ...] = ()
    date: str = ""
    url: str = ""
    description: str = ""


def parse_html(html: str) -> HtmlElement:
    """Parse a page or a bare fragment (wrapped so trafilatura keeps its headings)."""
    if not _DOCUMENT_TAG.search(html):
        html = f"<html><body><article>{html}</article></body></html>"
    tree = trafilatura.load_html(html)
    if tree is None:
        raise LoadError("not parseable as HTML")
    return tree


def meta_tags(tree: HtmlElement) -> dict[str, list[str]]:
    """`<meta>` contents by lower-cased name or property, in page order (citation_author repeats)."""
    tags: dict[str, list[str]] = {}
    for element in tree.iter("meta"):
        key = (element.get("name") or element.get("property") or "").strip().lower()
        content = " ".join((element.get("content") or "").split())
        if key and content:
            tags.setdefault(key, []).append(content)
    return tags


def _first(tags: dict[str, list[str]], *keys: str) -> str:
    for key in keys:
        if tags.get(key):
            return tags[key][0]
    return ""


def _citation_name(name: str) -> str:
    """Highwire `citation_author` is often "Last, First"; show it as "First Last"."""
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if comma and "," not in first and first.strip() else name


def _declared_url(tree: HtmlElement, tags: dict[str, list[str]], base_url: str) -> str:
    """The page's own canonical address (`<link rel=canonical>`, then og:url), made absolute."""
    links = [el.get("href", "") for el in tree.iter("link") if "canonical" in (el.get("rel") or "").lower().split()]
    for candidate in [*links, _first(tags, "og:url")]:
        try:
            url = urljoin(base_url, candidate.strip()) if candidate.strip() else ""
            if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname:
                return url
        except ValueError:  # a malformed address is no declaration at all
            log.debug("ignoring malformed canonical URL %r", candidate)
    return ""


def page_metadata(tree: HtmlElement, base_url: str = "") -> PageMetadata:
    """Title, authors, date, canonical URL and description of a parsed page.

    Scholarly (`citation_*`) and Open Graph tags are written by the publisher for exactly this
    purpose, so they win over trafilatura's heuristics, which are the fallback.
    """
    tags = meta_tags(tree)
    guessed = trafilatura.extract_metadata(tree, default_url=base_url or None, extensive=False)
    cited = [_citation_name(name) for name in tags.get("citation_author", [])]
    authors = split_authors(cited) or split_authors(_first(tags, "author")) or split_authors(guessed.author)
    date = _first(tags, "citation_publication_date", "citation_date", "article:published_time")
    return PageMetadata(
        title=_first(tags, "citation_title", "og:title") or (guessed.title or ""),
        authors=authors,
        date=normalise_date(date or guessed.date),
        url=_declared_url(tree, tags, base_url),
        description=_first(tags, "description", "og:description") or (guessed.description or ""),
    )


def _unescape_math(match: re.Match[str]) -> str:
    # Inverts trafilatura's Markdown escaping (k backslashes + char -> 2k+1 + char) inside
    # $...$ spans, where `_`, `[` and `*` are LaTeX, not Markdown.
    def undo(run: re.Match[str]) -> str:
        slashes = len(run.group(1))
        return "\\" * (slashes // 2) + run.group(2) if slashes % 2 else run.group(0)

    return _ESCAPED_RUN.sub(undo, match.group(0))


def tidy_markdown(text: str) -> str:
    """Clean trafilatura's Markdown for retrieval: intact LaTeX, footnote markers as `^n`.

    Bracketed footnote markers are unbracketed so that `[1]` in a source can never be taken
    for one of the bot's own `[n]` citation markers.
    """
    text = _DOLLAR_MATH.sub(_unescape_math, text)
    text = _SUP.sub(r"^\1", text)
    text = _SUB.sub(r"_\1", text)
    return _UNDERLINE.sub("", text).strip()


def main_text(tree: HtmlElement, url: str = "", prune_xpath: Sequence[str] = ()) -> str:
    """The page's main text as Markdown with `#` headings (for the heading-aware chunker)."""
    text = trafilatura.extract(
        tree,
        url=url or None,
        output_format="markdown",
        include_comments=False,
        include_tables=True,
        prune_xpath=list(prune_xpath) or None,
        config=_TRAFILATURA_CONFIG,
    )
    return tidy_markdown(text or "")


def article_from_html(
    html: str, relative_path: str = "", *, url: str = "", source: str = "html", prune_xpath: Sequence[str] = ()
) -> Article:
    """One article from a web page or fragment; `url` is where it came from, if known."""
    tree = parse_html(html)
    meta = page_metadata(tree, url)
    text = main_text(tree, url, prune_xpath)
    if not text:
        raise LoadError("no text found")
    heading = _MD_HEADING.search(text)
    address = meta.url or url
    return Article(
        doc_id=doc_id_for("", address, relative_path),
        title=meta.title or (heading.group(1) if heading else "") or Path(relative_path).stem or address,
        text=text,
        authors=meta.authors,
        url=address,
        date=meta.date,
        source=source,
        summary=meta.description,
    )


# --- PDF -------------------------------------------------------------------------------------


_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, AttributeError)  # what malformed PDFs raise


def _pdf_reader(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        decrypted = not reader.is_encrypted or reader.decrypt("")
    except DependencyError as exc:
        raise LoadError(f"encrypted PDF: {exc}") from exc
    except _PDF_ERRORS as exc:
        raise LoadError(f"not a readable PDF: {exc}") from exc
    if not decrypted:
        raise LoadError("PDF is password-protected")
    return reader


def _pdf_text(reader: PdfReader) -> str:
    pages = []
    try:
        for number, page in enumerate(reader.pages, start=1):
            try:
                pages.append((page.extract_text() or "").replace("\x00", "").strip())
            except _PDF_ERRORS as exc:
                log.warning("PDF page %d: text extraction failed (%s); page skipped", number, exc)
    except _PDF_ERRORS as exc:
        raise LoadError(f"not a readable PDF: {exc}") from exc
    return "\n\n".join(page for page in pages if page)


def _pdf_info(reader: PdfReader) -> tuple[str, tuple[str, ...]]:
    """Title and authors from the document information dictionary, which is often missing."""
    try:
        info = reader.metadata
    except _PDF_ERRORS as exc:
        log.warning("PDF metadata unreadable (%s); ignored", exc)
        return "", ()
    if info is None:
        return "", ()
    return " ".join(str(info.title or "").split()), split_authors(info.author)


def article_from_pdf(data: bytes, relative_path: str = "", *, url: str = "", source: str = "pdf") -> Article:
    """One article from a PDF's text layer; a scan without one is an error, not an empty article."""
    reader = _pdf_reader(data)
    text = _pdf_text(reader)
    if not text:
        raise LoadError("PDF has no extractable text (scanned?)")
    title, authors = _pdf_info(reader)
    fallback = Path(relative_path).stem or Path(urlsplit(url).path).name or url
    return Article(
        doc_id=doc_id_for("", url, relative_path),
        title=title or title_from_text(text, fallback),
        text=text,
        authors=authors,
        url=url,
        source=source,
    )


# --- plain text and Markdown -------------------------------------------------------------------


def article_from_text(text: str, relative_path: str) -> Article:
    text = text.strip()
    if not text:
        raise LoadError("no text found")
    return Article(
        doc_id=doc_id_for("", "", relative_path),
        title=title_from_text(text, Path(relative_path).stem),
        text=text,
        source="text",
    )


# --- Alignment Research Dataset JSONL ----------------------------------------------------------


def article_from_ard(record: Any) -> Article:
    """One record of StampyAI's alignment-research-dataset (extra keys are ignored)."""
    if not isinstance(record, dict):
        raise LoadError("not a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LoadError("no text")
    url = str(record.get("url") or "").strip()
    ard_id = str(record.get("id") or "").strip()
    if not url and not ard_id:
        raise LoadError("neither url nor id to identify the article")
    doc_id = doc_id_for("", url) if url else f"ard:{ard_id}"
    source = str(record.get("source") or "").strip()
    return Article(
        doc_id=doc_id,
        title=" ".join(str(record.get("title") or "").split()) or title_from_text(text, doc_id),
        text=text.strip(),
        authors=split_authors(record.get("authors")),
        url=url,
        date=normalise_date(record.get("date_published")),
        source=f"ard:{source}" if source else "ard",
    )


def ard_stream(lines: Iterable[str | bytes]) -> Iterator[Article | str]:
    """The articles of ARD JSONL lines in order, and a message for each unusable line ("line 7:
    not valid JSON"): one line in memory at a time, so a multi-GB file streams."""
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            article = article_from_ard(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            yield f"line {number}: not valid JSON"
            continue
        except LoadError as exc:
            yield f"line {number}: {exc}"
            continue
        if article.doc_id in first_line:
            yield f"line {number}: same article as line {first_line[article.doc_id]} ({article.doc_id})"
            continue
        first_line[article.doc_id] = number
        yield article


def ard_articles(text: str) -> tuple[list[Article], list[str]]:
    """Articles of an ARD JSONL text, and one message per unusable line."""
    articles: list[Article] = []
    errors: list[str] = []
    for item in ard_stream(text.splitlines()):
        (errors if isinstance(item, str) else articles).append(item)
    return articles, errors


# --- dispatch --------------------------------------------------------------------------------


def _markdown(path: Path, relative_path: str) -> Article:
    return article_from_markdown(read_text(path), relative_path)


def _html(path: Path, relative_path: str) -> Article:
    return article_from_html(read_text(path), relative_path)


def _pdf(path: Path, relative_path: str) -> Article:
    return article_from_pdf(read_bytes(path), relative_path)


def _text(path: Path, relative_path: str) -> Article:
    return article_from_text(read_text(path), relative_path)


_SINGLE_ARTICLE_LOADERS: dict[str, Callable[[Path, str], Article]] = {
    **dict.fromkeys(MARKDOWN_SUFFIXES, _markdown),
    **dict.fromkeys(HTML_SUFFIXES, _html),
    ".pdf": _pdf,
    ".txt": _text,
}


def load_file_with_errors(path: Path, relative_path: str) -> tuple[list[Article], list[str]]:
    """The articles in one file, and per-line problems of a JSONL file that were skipped.

    A problem with the whole file (unreadable, binary, not UTF-8, unsupported, no text) raises
    LoadError; only JSONL can have partial problems, so other formats return ([article], []).
    """
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        articles, errors = ard_articles(read_text(path))
        if not articles and not errors:
            raise LoadError("no text found")
        return articles, errors
    loader = _SINGLE_ARTICLE_LOADERS.get(suffix)
    if loader is None:
        kind = f"'{suffix}'" if suffix else "(no suffix)"
        raise LoadError(f"unsupported file type {kind}: give Markdown, HTML, PDF, text or ARD JSONL files")
    return [loader(path, relative_path)], []
