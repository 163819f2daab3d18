"""Core types shared by ingestion, retrieval, the answer pipeline and every front end."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote


def text_hash(text: str) -> str:
    """Short stable hash used in chunk ids and to detect changed articles."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Reference:
    """An original work that a bundled explainer explains."""

    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "authors": list(self.authors), "year": self.year, "url": self.url}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        return cls(title=data.get("title", ""), authors=tuple(data.get("authors") or ()), year=data.get("year"),
                   url=data.get("url", ""))


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    text: str
    authors: tuple[str, ...] = ()
    url: str = ""
    date: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    summary: str = ""
    references: tuple[Reference, ...] = ()
    related: tuple[str, ...] = ()  # ids of other articles a reader should read next

    @property
    def content_hash(self) -> str:
        """Changes whenever anything stored for the article changes (text or metadata)."""
        meta = "\x1f".join(
            [self.title, ",".join(self.authors), self.url, self.date, self.source,
             ",".join(self.tags), self.summary, repr(self.references), ",".join(self.related)]
        )
        return text_hash(meta + "\x1e" + self.text)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    text: str
    headings: tuple[str, ...]
    position: int

    def embedded_text(self, title: str) -> str:
        """What the embedding model sees: the article title and heading path give context."""
        path = " > ".join(h for h in self.headings if h and h != title)
        head = f"{title} — {path}" if path else title
        return f"{head}\n{self.text}"


@dataclass
class Passage:
    """A retrieved chunk with its article's metadata and its scores."""

    chunk_id: str
    doc_id: str
    text: str
    title: str
    headings: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    url: str = ""
    date: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    position: int = 0
    summary: str = ""  # the article's summary, if it has one (one shared string per article)
    related: tuple[str, ...] = ()
    dense: float = 0.0
    bm25: float = 0.0
    fused: float = 0.0


@dataclass
class Source:
    """One article among the results, with its best passages (best first): one article is one source."""

    doc_id: str
    passages: list[Passage] = field(default_factory=list)
    score: float = 0.0

    @property
    def best(self) -> Passage:
        return self.passages[0]

    @property
    def dense(self) -> float:
        return max(p.dense for p in self.passages)


@dataclass
class Citation:
    """A numbered source of an answer, as readers see it."""

    n: int
    doc_id: str
    title: str
    authors: tuple[str, ...]
    url: str
    date: str
    quote: str
    references: tuple[Reference, ...] = ()

    @property
    def link(self) -> str:
        """The URL with a text fragment that makes browsers scroll to and highlight the quote."""
        if not self.url.startswith(("http://", "https://")) or not self.quote:
            return self.url
        words = self.quote.rstrip("…").split()
        start = " ".join(words[:6])
        end = " ".join(words[-4:]) if len(words) > 10 else ""
        fragment = quote(start, safe="") + ("," + quote(end, safe="") if end else "")
        return f"{self.url.split('#')[0]}#:~:text={fragment}"

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "title": self.title,
            "authors": list(self.authors),
            "url": self.url,
            "link": self.link,
            "date": self.date,
            "quote": self.quote,
            "references": [r.to_json() for r in self.references],
        }

    @classmethod
    def from_source(cls, n: int, source: Source, quote: str) -> Citation:
        """Source n of an answer, showing `quote` from it."""
        best = source.best
        return cls(n=n, doc_id=source.doc_id, title=best.title, authors=best.authors, url=best.url,
                   date=best.date, quote=quote, references=best.references)
