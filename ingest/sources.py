"""What to ingest: folders, files and URLs named by the user, each a unit for pruning.

A source is re-ingested as a whole: articles that came from it before and are no longer in
it are deleted from the index (unless --no-prune).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from bot.core.types import Article
from ingest.formats import ard_stream, load_file_with_errors
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
    ard_sources: frozenset[str] = frozenset()  # keep only ARD records whose `source` is one of these
    limit: int | None = None  # at most this many articles

    @property
    def partial(self) -> bool:
        """Only part of the source is read: what was not read this time must not be pruned."""
        return bool(self.ard_sources) or self.limit is not None


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


def _stream_jsonl(path: Path, source: Source, bar: tqdm) -> Iterator[Loaded]:
    """An ARD JSONL file read a line at a time (any size, constant memory), the bar moving by bytes."""
    location = str(path)

    def lines() -> Iterator[bytes]:
        with path.open("rb") as f:
            for line in f:
                bar.update(len(line))
                yield line

    found = False
    try:
        for item in ard_stream(lines()):
            found = True
            if isinstance(item, str):
                yield Loaded(location, error=item)
            elif not source.ard_sources or item.source.removeprefix("ard:") in source.ard_sources:
                yield Loaded(location, article=item)
    except OSError as exc:
        yield Loaded(location, error=str(exc))
        return
    if not found:
        yield Loaded(location, error="no text found")


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


def _all(source: Source, fetch, bar: tqdm) -> Iterator[Loaded]:
    for path in source.files:
        if path.suffix.lower() == ".jsonl":
            yield from _stream_jsonl(path, source, bar)
        else:
            yield from _load_path(path, source.base or path.parent)
    for url in source.urls:
        try:
            yield Loaded(url, article=fetch(url))
        except LoadError as exc:
            yield Loaded(url, error=str(exc))


def load(source: Source, fetch=None, progress: bool = False) -> Iterator[Loaded]:
    """Every article of the source (up to its limit), as it is read; `fetch(url) -> Article` is
    used for URL sources. JSONL files show a progress bar by bytes read."""
    jsonl = sum(p.stat().st_size for p in source.files if p.suffix.lower() == ".jsonl" and p.is_file())
    with tqdm(total=jsonl, desc="reading", unit="B", unit_scale=True, disable=not progress or not jsonl) as bar:
        articles = 0
        for loaded in _all(source, fetch, bar):
            if loaded.article is not None:
                if source.limit is not None and articles >= source.limit:
                    return
                articles += 1
            yield loaded
