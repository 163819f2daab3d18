"""What to ingest: folders, files and URLs named by the user, each a unit for pruning.

A source is re-ingested as a whole: articles that came from it before and are no longer in
it are deleted from the index (unless --no-prune).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.types import Article
from ingest.formats import load_file_with_errors
from ingest.markdown import LoadError
from ingest.suffixes import SUPPORTED_SUFFIXES

MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass
class Loaded:
    """One article, or the reason something at `location` could not be loaded."""

    location: str
    article: Article | None = None
    error: str = ""


@dataclass
class Source:
    key: str  # identifies the source across runs (its resolved path, or the URL list)
    files: list[Path] = field(default_factory=list)
    base: Path | None = None  # folder that relative paths (and path-based doc_ids) start from
    urls: list[str] = field(default_factory=list)


def discover(path: Path) -> Source:
    root = path.expanduser().resolve()
    if not root.exists():
        raise LoadError(f"{path}: no such file or folder")
    if root.is_file():
        return Source(str(root), [root], root.parent)
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    return Source(str(root), files, root)


def url_source(urls: list[str], key: str) -> Source:
    return Source(key, urls=urls)


def _load_path(path: Path, base: Path) -> Iterator[Loaded]:
    location = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoadError(f"too large ({size / 1_048_576:.0f} MiB; the limit is {MAX_FILE_BYTES // 1_048_576} MiB)")
        articles, errors = load_file_with_errors(path, path.relative_to(base).as_posix())
    except (LoadError, OSError) as exc:
        yield Loaded(location, error=str(exc))
        return
    for article in articles:
        yield Loaded(location, article=article)
    for error in errors:
        yield Loaded(location, error=error)


def load(source: Source, fetch=None) -> Iterator[Loaded]:
    """Every article of the source; `fetch(url) -> Article` is used for URL sources."""
    for path in source.files:
        yield from _load_path(path, source.base or path.parent)
    for url in source.urls:
        try:
            yield Loaded(url, article=fetch(url))
        except LoadError as exc:
            yield Loaded(url, error=str(exc))
