"""Markdown articles with YAML front matter, with the key spellings found in the wild."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.core.identity import doc_id_for
from bot.core.types import Article, Reference
from ingest.metadata import normalise_date, split_authors, split_list

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)

URL_KEYS = ("url", "canonical_url", "original_url", "source_url", "link")
DATE_KEYS = ("date", "date_published", "published")
SUMMARY_KEYS = ("summary", "description")


class LoadError(ValueError):
    """A file that cannot be read as an article; the message says why."""


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"broken YAML front matter: {exc}".replace("\n", " ")) from exc
    if not isinstance(meta, dict):
        raise LoadError("front matter is not a mapping of keys to values")
    return meta, raw[match.end():]


def _first(meta: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if meta.get(key) not in (None, ""):
            return meta[key]
    return None


def _references(value: Any) -> tuple[Reference, ...]:
    refs = []
    for item in value or ():
        if isinstance(item, dict) and item.get("title"):
            year = item.get("year")
            refs.append(Reference(
                title=str(item["title"]),
                authors=split_authors(item.get("authors") or item.get("author")),
                year=int(year) if isinstance(year, int) or (isinstance(year, str) and year.isdigit()) else None,
                url=str(item.get("url") or ""),
            ))
    return tuple(refs)


def article_from_markdown(raw: str, relative_path: str, source: str = "markdown") -> Article:
    """Parse one Markdown document; `relative_path` names it when it has neither id nor URL."""
    meta, body = split_front_matter(raw)
    body = body.strip()
    if not body:
        raise LoadError("no text after the front matter")
    h1 = _H1.search(body)
    title = str(meta.get("title") or (h1.group(1) if h1 else Path(relative_path).stem)).strip()
    url = str(_first(meta, URL_KEYS) or "").strip()
    return Article(
        doc_id=doc_id_for(str(meta.get("id") or ""), url, relative_path),
        title=title,
        text=body,
        authors=split_authors(meta.get("authors") or meta.get("author")),
        url=url,
        date=normalise_date(_first(meta, DATE_KEYS)),
        source=str(meta.get("source") or source),
        tags=split_list(meta.get("tags")),
        summary=str(_first(meta, SUMMARY_KEYS) or "").strip(),
        references=_references(meta.get("references")),
        related=split_list(meta.get("related")),
    )
