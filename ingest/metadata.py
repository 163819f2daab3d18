"""Author, date and list fields as they are spelled in front matter, meta tags and datasets,
read one way for every format."""

from __future__ import annotations

import re
from typing import Any

_YMD = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:;|,|&|\band\b)\s*")
_LIST_SEPARATORS = re.compile(r"\s*[;,]\s*")


def normalise_date(value: Any) -> str:
    """ISO `YYYY-MM-DD` for the date spellings (and YAML dates) found in the wild; others kept as is."""
    text = str(value or "").strip()
    match = _YMD.match(text)
    if match:
        year, month, day = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text


def split_authors(value: Any) -> tuple[str, ...]:
    """Author names from a list or from one string separated by `;`, `,`, `&` or `and`."""
    if value is None:
        return ()
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else _AUTHOR_SEPARATORS.split(str(value))
    names = (" ".join(item.split()) for item in items)
    return tuple(dict.fromkeys(name for name in names if name))


def split_list(value: Any) -> tuple[str, ...]:
    """Tags and similar lists: a list, or one string separated by `,` or `;` (never by "and":
    a tag like "reward-and-value" is one tag)."""
    if value is None:
        return ()
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else _LIST_SEPARATORS.split(str(value))
    return tuple(item.strip() for item in items if item.strip())
