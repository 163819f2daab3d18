"""What the Library tab does to the index, without any UI: list, search and sort articles, take
uploads and pasted URLs into ingestion.

Uploaded files are copied into `<data_dir>/uploads/` under a cleaned-up name and ingested from
there, so re-uploading a file of the same name updates its article instead of adding another.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.index import ArticleInfo
from bot.core.settings import Settings
from bot.core.types import Article
from ingest.suffixes import SUPPORTED_SUFFIXES

if TYPE_CHECKING:
    from ingest.indexer import Report

log = logging.getLogger(__name__)

MAX_URLS = 20
SORTS = {
    "Title (A–Z)": (lambda a: a.title.lower(), False),
    "Date (newest first)": (lambda a: a.date or "", True),
    "Date (oldest first)": (lambda a: a.date or "9999", False),
    "Chunks (most first)": (lambda a: a.chunks, True),
}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRejected(ValueError):
    """A file or URL the app will not ingest; the message says why and what to do."""


def safe_name(name: str) -> str:
    """A file name that cannot leave the uploads folder or hide as a dotfile."""
    stem, dot, suffix = Path(name).name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED_SUFFIXES:
        raise UploadRejected(f"{name}: not a supported file type; use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    stem = _UNSAFE_NAME.sub("-", stem).strip(".-")[:80] or "upload"
    return f"{stem}.{suffix.lower()}"


def save_upload(source: Path, original_name: str, settings: Settings) -> Path:
    """Copy an uploaded file into the uploads folder, refusing files over the size limit."""
    size = source.stat().st_size
    limit = settings.max_upload_mb * 1024 * 1024
    if size > limit:
        raise UploadRejected(f"{original_name}: {size / 1_048_576:.1f} MiB is over the {settings.max_upload_mb} MiB "
                             "limit (ALIGNCHAT_MAX_UPLOAD_MB); split the file or ingest it with `python -m ingest`")
    target_dir = settings.uploads_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / safe_name(original_name)
    shutil.copyfile(source, target)
    return target


def parse_urls(text: str) -> list[str]:
    """The http(s) URLs pasted one per line (blank lines ignored), without repeats."""
    urls = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    bad = [u for u in urls if not re.match(r"https?://\S+$", u)]
    if bad:
        raise UploadRejected(f"not an http(s) URL: {bad[0]!r}; paste one URL per line")
    if len(urls) > MAX_URLS:
        raise UploadRejected(f"{len(urls)} URLs at once is too many (the limit is {MAX_URLS}); paste them in batches")
    return urls


def search_articles(articles: Sequence[ArticleInfo], query: str, sort: str) -> list[ArticleInfo]:
    """Articles whose title, authors, tags or id contain every word of the query, sorted."""
    words = query.lower().split()
    found = [a for a in articles
             if all(w in " ".join([a.title, *a.authors, *a.tags, a.doc_id]).lower() for w in words)]
    key, reverse = SORTS.get(sort, SORTS["Title (A–Z)"])
    return sorted(found, key=key, reverse=reverse)


def ingest(settings: Settings, files: Sequence[Path], urls: Sequence[str], user: str,
           fetch: Callable[[str], Article] | None = None) -> Report:
    """Index the files and URLs as `user`'s change; each is its own source, so re-adding one updates only it.
    The embedding model is the engine's (it is cached per process). Ingestion and its parsers are
    imported on first use, so they cost the app's start-up nothing."""
    from ingest.indexer import Indexer
    from ingest.sources import url_source
    from ingest.web import fetch_article

    sources = [url_source([url], key=url) for url in urls]
    if fetch is None:
        def fetch(url: str) -> Article:
            return fetch_article(url, public_only=not settings.allow_private_urls)
    return Indexer(settings, progress=True, user=user).run(paths=list(files), sources=sources, fetch=fetch)
