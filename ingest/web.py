"""Articles fetched from URLs: generic pages, arXiv abstract pages and LessWrong-family posts.

Pages are extracted exactly like HTML files (ingest.formats), plus what each site needs: an
arXiv abstract page is mostly chrome around one abstract, and LessWrong, the Alignment Forum
and GreaterWrong pages carry long comment threads that are not the post.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from lxml.html import HtmlElement
from trafilatura.utils import decode_file

from bot.core.identity import canonical_url, doc_id_for
from bot.core.types import Article
from ingest.formats import article_from_html, article_from_pdf, meta_tags, page_metadata, parse_html, read_text
from ingest.markdown import LoadError

log = logging.getLogger(__name__)

USER_AGENT = "AlignChat/0.1 (AI alignment RAG chatbot; fetches articles a user asked to ingest)"
MAX_PAGE_BYTES = 20 * 1024 * 1024
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

LESSWRONG_HOSTS = ("lesswrong.com", "alignmentforum.org", "greaterwrong.com")
ARXIV_HOSTS = ("arxiv.org", "export.arxiv.org")

# Comment threads of LessWrong / Alignment Forum (CommentsSection) and GreaterWrong (#comments).
LESSWRONG_PRUNE = ("//*[contains(@class, 'CommentsSection')]", "//*[@id='comments']")
_SITE_SUFFIX = re.compile(r"\s+[-–—|]\s+(?:LessWrong(?: 2\.0 viewer)?|AI Alignment Forum|GreaterWrong)\s*$", re.IGNORECASE)
_ARXIV_VERSION = re.compile(r"v\d+$")
_ABSTRACT_LABEL = re.compile(r"^\s*abstract\s*:\s*", re.IGNORECASE)


def site_kind(url: str) -> str:
    """Which extraction a URL needs: "lesswrong", "arxiv" (abstract pages) or "web"."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").removeprefix("www.")
    if any(host == known or host.endswith("." + known) for known in LESSWRONG_HOSTS):
        return "lesswrong"
    if host in ARXIV_HOSTS and parts.path.startswith("/abs/"):
        return "arxiv"
    return "web"


def _check_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a malformed IPv6 host, or a port out of range (raised by .port)
        valid = False
    if not valid or any(c.isspace() for c in url):
        raise LoadError(f"not an http(s) URL: {url!r}")
    return url


def _refuse_private(request: httpx.Request) -> None:
    """Event hook for every request, redirects included: a page added by a web visitor must not
    make the server read its own network (loopback, private, link-local addresses)."""
    host = request.url.host
    try:
        infos = socket.getaddrinfo(host, request.url.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise LoadError(f"cannot resolve {host}: {exc.strerror}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise LoadError(
                f"refusing to fetch {request.url}: {host} is a private or local address "
                "(set ALIGNCHAT_ALLOW_PRIVATE_URLS=true to allow it)"
            )


def read_url_file(path: Path) -> list[str]:
    """The URLs listed in a file, one per line; `#` starts a comment (at line start or after a space).

    Repeats of an already listed URL (same canonical form) are dropped.
    """
    urls: dict[str, str] = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        entry = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not entry:
            continue
        try:
            url = _check_url(entry)
        except LoadError as exc:
            raise LoadError(f"{path.name} line {number}: {exc}") from exc
        urls.setdefault(canonical_url(url), url)
    return list(urls.values())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True)
class _Fetched:
    status: int
    media_type: str
    charset: str | None
    content: bytes


def _download(client: httpx.Client, url: str, timeout: float) -> _Fetched:
    """One GET, body read up to MAX_PAGE_BYTES; raises httpx errors unchanged so they can be retried."""
    headers = {"User-Agent": USER_AGENT}
    with client.stream("GET", url, timeout=timeout, follow_redirects=True, headers=headers) as response:
        body = bytearray()
        if response.status_code < 400:
            for piece in response.iter_bytes():
                body.extend(piece)
                if len(body) > MAX_PAGE_BYTES:
                    raise LoadError(f"larger than {MAX_PAGE_BYTES // 1_048_576} MiB: {url}")
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return _Fetched(response.status_code, media_type, response.charset_encoding, bytes(body))


def _fetch(client: httpx.Client, url: str, timeout: float, retries: int, backoff: float) -> _Fetched:
    """GET with retries on timeouts, connection failures and 5xx; a 4xx is final at once."""
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            delay = backoff * 2 ** (attempt - 1)
            log.info("retrying %s in %.1f s (%s)", url, delay, problem)
            time.sleep(delay)
        try:
            response = _download(client, url, timeout)
        except httpx.TimeoutException:
            problem = f"timed out after {timeout:g} s fetching {url}"
            continue
        except httpx.TransportError as exc:
            problem = f"could not fetch {url} ({exc or type(exc).__name__})"
            continue
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise LoadError(f"could not fetch {url} ({exc})") from exc
        if response.status >= 500:
            problem = f"HTTP {response.status} from {url}"
            continue
        if response.status >= 400:
            raise LoadError(f"HTTP {response.status} from {url}")
        return response
    raise LoadError(f"{problem}, retried {_plural(retries, 'time')}" if retries else problem)


def _decode(response: _Fetched) -> str:
    """The page as text: the charset the server declared, else UTF-8, else a detected encoding."""
    if response.charset:
        try:
            return response.content.decode(response.charset, errors="replace")
        except LookupError:
            log.warning("unknown charset %r; detecting the encoding instead", response.charset)
    return decode_file(response.content)


def _arxiv_abstract(tree: HtmlElement, tags: dict[str, list[str]]) -> str:
    abstract = tags.get("citation_abstract", [""])[0]
    if not abstract:
        quotes = tree.xpath("//blockquote[contains(concat(' ', normalize-space(@class), ' '), ' abstract ')]")
        abstract = _ABSTRACT_LABEL.sub("", " ".join(quotes[0].text_content().split())) if quotes else ""
    return abstract


def arxiv_article(html: str, url: str) -> Article:
    """An arXiv abstract page: the abstract is the text, the citation_* tags the metadata.

    The URL is built from citation_arxiv_id without a version, so that a new version of a
    paper replaces the old one in the index instead of sitting next to it.
    """
    tree = parse_html(html)
    meta = page_metadata(tree, url)
    tags = meta_tags(tree)
    abstract = _arxiv_abstract(tree, tags)
    if not abstract:
        raise LoadError("no abstract found on the arXiv page")
    arxiv_id = _ARXIV_VERSION.sub("", tags.get("citation_arxiv_id", [""])[0])
    address = f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else meta.url or url
    return Article(
        doc_id=doc_id_for("", address),
        title=meta.title or address,
        text=abstract,
        authors=meta.authors,
        url=address,
        date=meta.date,
        source="arxiv",
    )


def lesswrong_article(html: str, url: str) -> Article:
    """A LessWrong / Alignment Forum / GreaterWrong post without its comments or site name."""
    article = article_from_html(html, url=url, source="lesswrong", prune_xpath=LESSWRONG_PRUNE)
    return dataclasses.replace(article, title=_SITE_SUFFIX.sub("", article.title))


def web_article(html: str, url: str) -> Article:
    """Any other page: trafilatura's main text and the page's own metadata."""
    return article_from_html(html, url=url, source="web")


_EXTRACTORS: dict[str, Callable[[str, str], Article]] = {
    "arxiv": arxiv_article,
    "lesswrong": lesswrong_article,
    "web": web_article,
}


def fetch_article(
    url: str,
    timeout: float = 20.0,
    retries: int = 2,
    client: httpx.Client | None = None,
    *,
    kind: str | None = None,
    backoff: float = 0.5,
    public_only: bool = False,
) -> Article:
    """Download one URL and extract its article; any failure is a LoadError saying what happened.

    The article's URL is the canonical form of `url` as asked for (a redirect target is often
    a tracking or mirror address), unless the page declares its own canonical link. `kind`
    ("web", "arxiv", "lesswrong") forces a site's extraction, e.g. for a page served by a test
    server; by default site_kind(url) decides. A PDF answer is read like a PDF file, since
    papers are often linked as PDFs. `public_only` refuses private and local addresses, at
    every redirect too (the web app sets it; the command line trusts its user).
    """
    url = _check_url(url)
    extract = _EXTRACTORS.get(kind or site_kind(url))
    if extract is None:
        raise ValueError(f"unknown site kind {kind!r}: use one of {sorted(_EXTRACTORS)}")
    if client is None:
        hooks = {"request": [_refuse_private]} if public_only else {}
        with httpx.Client(event_hooks=hooks) as own_client:
            response = _fetch(own_client, url, timeout, retries, backoff)
    else:
        response = _fetch(client, url, timeout, retries, backoff)
    try:
        if response.media_type == "application/pdf":
            return article_from_pdf(response.content, url=canonical_url(url), source="pdf")
        if response.media_type and response.media_type not in HTML_TYPES:
            raise LoadError(f"not an HTML page (content-type {response.media_type})")
        return extract(_decode(response), canonical_url(url))
    except LoadError as exc:
        raise LoadError(f"{exc}: {url}") from exc
