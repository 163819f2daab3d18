"""Finds the files to ingest under the paths a user names and loads each into an Article."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.schema import Article
from ingest.markdown import LoadError, load_markdown

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx"}
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class Loaded:
    """The outcome of loading one file: an article, or the reason it could not be loaded."""

    path: Path
    article: Article | None = None
    error: str = ""


@dataclass
class Source:
    """A folder or file named on the command line: the unit that pruning applies to."""

    root: Path
    files: list[Path]

    @property
    def key(self) -> str:
        return str(self.root)


def discover(path: Path) -> Source:
    root = path.expanduser().resolve()
    if not root.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if root.is_file():
        return Source(root, [root])
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in MARKDOWN_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    return Source(root, files)


def load(source: Source) -> Iterator[Loaded]:
    base = source.root if source.root.is_dir() else source.root.parent
    for path in source.files:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise LoadError(f"too large ({size // 1_048_576} MiB; the limit is {MAX_FILE_BYTES // 1_048_576} MiB)")
            if path.suffix.lower() not in MARKDOWN_SUFFIXES:
                raise LoadError(f"unsupported file type {path.suffix!r}: give Markdown (.md) files")
            yield Loaded(path, article=load_markdown(path, base))
        except (LoadError, OSError) as exc:
            yield Loaded(path, error=str(exc))
