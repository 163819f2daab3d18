"""Hybrid retrieval: dense (Chroma, cosine) + BM25 (bm25s), fused by reciprocal rank, grouped
so that one article is one source.

The BM25 index is built from the chunks stored in Chroma when the retriever is created, so it
is always in step with the vector index, whoever wrote it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import bm25s
import numpy as np

from bot.schema import Passage
from bot.store import IndexStore
from bot.text import inverse_document_frequencies

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)
RRF_K = 20  # measured on the bundled question set: 20 beats the usual 60 (MRR@10 0.79 -> 0.81)
CANDIDATES = 40
PASSAGES_PER_SOURCE = 2
DECAY = 0.5  # an article's score: its chunks' fused scores, best first, each counting half the one before
CENTROID_SAMPLE = 5000

try:
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english")
except ImportError:  # stemming helps recall a little; plain tokens still work
    _STEMMER = None


def _keyword_text(p: Passage) -> str:
    return " ".join([p.title, *p.headings, p.text])


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some articles. Empty fields do not restrict."""

    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # matched case-insensitively as substrings of any author
    date_from: str = ""  # ISO dates, inclusive; articles without a date are excluded by a range
    date_to: str = ""
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tags or self.authors or self.date_from or self.date_to or self.sources)

    def accepts(self, p: Passage) -> bool:
        if self.tags and not set(self.tags) & set(p.tags):
            return False
        if self.authors and not any(a.lower() in author.lower() for a in self.authors for author in p.authors):
            return False
        if (self.date_from or self.date_to) and not p.date:
            return False
        if self.date_from and p.date[:10] < self.date_from:
            return False
        if self.date_to and p.date[:10] > self.date_to:
            return False
        return not self.sources or p.source in self.sources


@dataclass
class Source:
    """One article among the results, with its best passages (best first)."""

    doc_id: str
    passages: list[Passage] = field(default_factory=list)
    score: float = 0.0

    @property
    def best(self) -> Passage:
        return self.passages[0]

    @property
    def dense(self) -> float:
        return max(p.dense for p in self.passages)


class Retriever:
    def __init__(self, store: IndexStore, embeddings) -> None:
        self.store = store
        self.embeddings = embeddings
        self.passages = store.all_passages()
        self.bm25 = bm25s.BM25()
        tokens = bm25s.tokenize([_keyword_text(p) for p in self.passages], stopwords="en",
                                stemmer=_STEMMER, show_progress=False)
        self.bm25.index(tokens, show_progress=False)
        # Word rarity across the library, for weighing citation support (bot.citations).
        self.idf = inverse_document_frequencies([_keyword_text(p) for p in self.passages])
        self.centroid = self._centroid()

    def _centroid(self) -> np.ndarray:
        """The library's mean direction: what "on topic" looks like to the embedding model."""
        got = self.store.collection.get(limit=CENTROID_SAMPLE, include=["embeddings"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        if not len(vectors):
            return np.zeros(1, dtype=np.float32)
        mean = vectors.mean(axis=0)
        return mean / (np.linalg.norm(mean) or 1.0)

    def topicality(self, vector: list[float]) -> float:
        """Cosine similarity of a query to the library as a whole (off-topic questions score low)."""
        if self.centroid.shape != (len(vector),):
            return 0.0
        return float(np.asarray(vector, dtype=np.float32) @ self.centroid)

    def embed(self, query: str) -> list[float]:
        return self.embeddings.embed_query(re.sub(r"\s+", " ", query).strip())

    def _keyword(self, query: str, n: int) -> list[tuple[int, float]]:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_STEMMER, show_progress=False)
        if not tokens.vocab or not self.passages:
            return []
        n = min(n, len(self.passages))
        docs, scores = self.bm25.retrieve(tokens, k=n, show_progress=False)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def search(self, query: str, k: int, filters: Filters = Filters(),
               vector: list[float] | None = None) -> list[Source]:
        """The k best articles for the query, each with up to two passages."""
        query = re.sub(r"\s+", " ", query).strip()
        vector = vector if vector is not None else self.embed(query)
        where = None
        if filters:
            allowed = sorted({p.doc_id for p in self.passages if filters.accepts(p)})
            if not allowed:
                return []
            where = {"doc_id": {"$in": allowed}}
        dense = self.store.query(vector, CANDIDATES, where=where)
        fused: dict[str, Passage] = {}
        for rank, p in enumerate(dense):
            p.fused = 1.0 / (RRF_K + rank + 1)
            fused[p.chunk_id] = p
        keyword = [(i, sc) for i, sc in self._keyword(query, CANDIDATES * (4 if filters else 1))
                   if not filters or filters.accepts(self.passages[i])][:CANDIDATES]
        for rank, (index, score) in enumerate(keyword):
            stored = self.passages[index]
            p = fused.get(stored.chunk_id)
            if p is None:
                p = Passage(**{**stored.__dict__})
                fused[p.chunk_id] = p
            p.bm25 = score
            p.fused += 1.0 / (RRF_K + rank + 1)
        if any(p.dense == 0.0 for p in fused.values()):
            self._fill_dense(vector, [p for p in fused.values() if p.dense == 0.0])
        sources: dict[str, Source] = {}
        seen: dict[str, int] = {}
        for p in sorted(fused.values(), key=lambda p: p.fused, reverse=True):
            source = sources.setdefault(p.doc_id, Source(p.doc_id))
            rank = seen.get(p.doc_id, 0)
            seen[p.doc_id] = rank + 1
            # Several matching passages raise an article, with diminishing returns, so one long
            # article cannot crowd out the single passage that answers the question.
            source.score += p.fused * DECAY**rank
            if len(source.passages) < PASSAGES_PER_SOURCE:
                source.passages.append(p)
        return sorted(sources.values(), key=lambda s: s.score, reverse=True)[:k]

    def _fill_dense(self, vector: list[float], passages: list[Passage]) -> None:
        """Cosine scores for keyword-only hits, so every passage has a comparable relevance."""
        got = self.store.collection.get(ids=[p.chunk_id for p in passages], include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        for p in passages:
            emb = by_id.get(p.chunk_id)
            if emb is not None:
                p.dense = float(sum(a * b for a, b in zip(vector, emb, strict=True)))
