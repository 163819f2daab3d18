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

from bot.schema import Passage
from bot.store import IndexStore
from bot.text import inverse_document_frequencies

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)
RRF_K = 60
CANDIDATES = 40
PASSAGES_PER_SOURCE = 2

try:
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english")
except ImportError:  # stemming helps recall a little; plain tokens still work
    _STEMMER = None


def _keyword_text(p: Passage) -> str:
    return " ".join([p.title, *p.headings, p.text])


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
        self._by_id = {p.chunk_id: i for i, p in enumerate(self.passages)}
        self.bm25 = bm25s.BM25()
        tokens = bm25s.tokenize([_keyword_text(p) for p in self.passages], stopwords="en",
                                stemmer=_STEMMER, show_progress=False)
        self.bm25.index(tokens, show_progress=False)
        # Word rarity across the library, for weighing citation support (bot.citations).
        self.idf = inverse_document_frequencies([_keyword_text(p) for p in self.passages])

    def _keyword(self, query: str, n: int) -> list[tuple[int, float]]:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_STEMMER, show_progress=False)
        if not tokens.vocab or not self.passages:
            return []
        n = min(n, len(self.passages))
        docs, scores = self.bm25.retrieve(tokens, k=n, show_progress=False)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def search(self, query: str, k: int) -> list[Source]:
        """The k best articles for the query, each with up to two passages."""
        query = re.sub(r"\s+", " ", query).strip()
        vector = self.embeddings.embed_query(query)
        dense = self.store.query(vector, CANDIDATES)
        fused: dict[str, Passage] = {}
        for rank, p in enumerate(dense):
            p.fused = 1.0 / (RRF_K + rank + 1)
            fused[p.chunk_id] = p
        for rank, (index, score) in enumerate(self._keyword(query, CANDIDATES)):
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
        for p in sorted(fused.values(), key=lambda p: p.fused, reverse=True):
            source = sources.setdefault(p.doc_id, Source(p.doc_id))
            if len(source.passages) < PASSAGES_PER_SOURCE:
                source.passages.append(p)
        for source in sources.values():
            # An article's score: its best passage, plus a little for a second good one.
            source.score = source.passages[0].fused + 0.5 * sum(p.fused for p in source.passages[1:])
        return sorted(sources.values(), key=lambda s: s.score, reverse=True)[:k]

    def _fill_dense(self, vector: list[float], passages: list[Passage]) -> None:
        """Cosine scores for keyword-only hits, so every passage has a comparable relevance."""
        got = self.store.collection.get(ids=[p.chunk_id for p in passages], include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        for p in passages:
            emb = by_id.get(p.chunk_id)
            if emb is not None:
                p.dense = float(sum(a * b for a, b in zip(vector, emb, strict=True)))
