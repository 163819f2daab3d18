"""Hybrid retrieval ranked by article, so that one article is one source.

Four rankings of articles are fused by reciprocal rank: dense similarity (Chroma, cosine) of an
article's two best passages (weighted double), BM25 of its two best passages, BM25 of the whole article,
and BM25 of its title, summary and tags. Passage-level lists alone let one vivid passage of an
off-topic article beat an article that answers the question in words spread over several
passages; the article-level lists catch those (measured in BENCHMARKS.md: MRR@10 0.80 -> 0.86).

The keyword indexes are the ones ingestion keeps beside the vector index (bot.core.keywords),
read in place: opening them costs the same at any library size, and nothing is held per chunk
but a few bytes. Only the candidate articles' stored vectors are read, and only the returned
passages' texts are fetched from Chroma.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import bm25s
import numpy as np

from bot.core.index import DOC_ID, IndexStore
from bot.core.keywords import ArticleFacts
from bot.core.models import load_query_embeddings
from bot.core.settings import Settings
from bot.core.text import STEMMER, WordRarity
from bot.core.types import Passage, Source

log = logging.getLogger(__name__)
RRF_K = 3  # measured on the bundled question set (157 articles, even half): 3 > 5 > 8 > 10 > 20 > 60
# Dense similarity counts twice in the fusion: with 157 articles, the keyword lists let an article
# that shares a question's everyday words ("AGI", "just", "could") outrank the one that answers it.
DENSE_WEIGHT = 2.0
CANDIDATES = 40  # dense passages asked of Chroma; their articles become candidates
ARTICLE_CANDIDATES = 20  # best articles taken from each keyword ranking
PASSAGES_PER_SOURCE = 2
DECAY = 0.5  # an article's passage score: its best passage plus half its second best, averaged


def best_two(scores: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per article (its passages are rows starts[a]:starts[a] + sizes[a]): (best + DECAY * second
    best) / (1 + DECAY) of its passages' scores. Two good passages beat one, but a long article
    cannot win on many weak ones; an article of one passage counts it twice."""
    if not len(sizes):
        return np.zeros(0)
    best = np.maximum.reduceat(scores, starts)
    is_best = scores == np.repeat(best, sizes)
    tied = np.add.reduceat(is_best, starts) > 1
    rest = np.maximum.reduceat(np.where(is_best, -np.inf, scores), starts)
    second = np.where((sizes == 1) | tied, best, rest)
    return (best + DECAY * second) / (1 + DECAY)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """0-based rank of every entry, best (highest) first, ties in index order; -inf entries rank
    last. Only the entries that are neither 0 nor -inf are sorted (at a million chunks most
    articles score exactly 0 in a keyword list, or -inf in the dense one): the order is that of a
    stable sort of all of them."""
    ranks = np.empty(len(scores), dtype=np.int64)
    valued = np.flatnonzero(np.isfinite(scores) & (scores != 0))
    ordered = valued[np.argsort(-scores[valued], kind="stable")]
    positive = ordered[scores[ordered] > 0]
    groups = [positive, np.flatnonzero(scores == 0), ordered[scores[ordered] < 0], np.flatnonzero(scores == -np.inf)]
    start = 0
    for group in groups:
        ranks[group] = np.arange(start, start + len(group))
        start += len(group)
    return ranks


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

    def accepts(self, p: ArticleFacts | Passage) -> bool:
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


RANKINGS = ("dense", "passage_bm25", "article_bm25", "field_bm25")


def open_retriever(settings: Settings) -> Retriever:
    """The retriever the settings describe. The index's first read (Chroma loads its files then,
    about a second) and the embedding model's load overlap: start-up is the longer of the two."""
    with ThreadPoolExecutor(1) as pool:
        embeddings = pool.submit(load_query_embeddings, settings.embedding_model, settings.device)
        store = IndexStore.open_for_reading(settings)
        return Retriever(store, embeddings.result())


class Retriever:
    def __init__(self, store: IndexStore, embeddings, rankings: tuple[str, ...] = RANKINGS, rrf_k: int = RRF_K) -> None:
        unknown = set(rankings) - set(RANKINGS)
        if unknown or not rankings:
            raise ValueError(f"rankings must be some of {', '.join(RANKINGS)}; got {', '.join(rankings) or 'none'}")
        self.rankings = rankings  # which rankings are fused: all of them, except in ablation studies
        self.rrf_k = rrf_k
        self.store = store
        self.embeddings = embeddings
        self.keywords = store.keyword_index()
        # Word rarity across the library, for weighing citation support (bot.answer.citations).
        self.idf = WordRarity(self.keywords.live_passages, self.keywords.passages_with)
        self.centroid = self.keywords.centroid()

    def reloaded(self, store: IndexStore | None = None) -> Retriever:
        """A retriever over what the store (or a reopened one) holds now, fused the same way."""
        return Retriever(store or self.store, self.embeddings, self.rankings, self.rrf_k)

    def topicality(self, vector: list[float]) -> float:
        """Cosine similarity of a query to the library as a whole (off-topic questions score low)."""
        if self.centroid.shape != (len(vector),):
            return 0.0
        return float(np.asarray(vector, dtype=np.float32) @ self.centroid)

    def embed(self, query: str) -> list[float]:
        return self.embeddings.embed_query(re.sub(r"\s+", " ", query).strip())

    def search(self, query: str, k: int, filters: Filters = Filters(),
               vector: list[float] | None = None) -> list[Source]:
        """The k best articles for the query, each with up to two passages (best first)."""
        query = re.sub(r"\s+", " ", query).strip()
        vector = vector if vector is not None else self.embed(query)
        kw = self.keywords
        if not kw.live_passages:
            return []
        allowed = kw.article_live.copy()
        where = None
        if filters:
            live = np.flatnonzero(allowed)
            allowed[live] = [filters.accepts(kw.facts(a)) for a in live]
            if not allowed.any():
                return []
            where = {DOC_ID: {"$in": [kw.doc_id(a) for a in np.flatnonzero(allowed)]}}

        words = bm25s.tokenize([query], stopwords="en", stemmer=STEMMER, return_ids=False, show_progress=False)[0]
        chunk_keyword = kw.bm25("passage", words)
        keyword_lists = {
            "passage_bm25": lambda: best_two(chunk_keyword, kw.starts[:-1], kw.sizes),
            "article_bm25": lambda: kw.bm25("article", words),
            "field_bm25": lambda: kw.bm25("field", words),
        }
        nearest = self.store.nearest_articles(vector, min(CANDIDATES, kw.live_passages), where=where)
        candidates = {kw.article_of_doc.get(doc_id, -1) for doc_id in nearest}
        ranks = []
        for name, scores_of in keyword_lists.items():
            if name not in self.rankings:
                continue
            scores = scores_of()
            scores[~allowed] = -np.inf
            ranks.append(_ranks(scores))
            candidates.update(np.flatnonzero((ranks[-1] < ARTICLE_CANDIDATES) & (scores > 0)).tolist())
        candidates.discard(-1)
        if not candidates:
            return []
        chosen = sorted(candidates)
        sizes = kw.sizes[chosen]
        rows = np.concatenate([np.arange(kw.starts[a], kw.starts[a + 1]) for a in chosen])
        chunk_dense = np.full(kw.n_passages, -np.inf)
        chunk_dense[rows] = self._cosines(vector, kw.vectors(rows))
        dense = np.full(kw.n_articles, -np.inf)  # only the candidates' passages are scored
        dense[chosen] = best_two(chunk_dense[rows], np.cumsum(sizes) - sizes, sizes)

        weights = [1.0] * len(ranks)
        if "dense" in self.rankings:
            ranks.insert(0, _ranks(dense))  # first: the sum's order decides exact ties, as measured
            weights.insert(0, DENSE_WEIGHT)
        fused = np.zeros(kw.n_articles)
        for weight, rank in zip(weights, ranks, strict=True):
            fused += weight / (self.rrf_k + rank + 1)
        ranked = sorted(chosen, key=lambda a: -fused[a])[:k]
        best = {a: self._best_rows(a, chunk_dense, chunk_keyword) for a in ranked}
        stored = self.store.passages_by_id([kw.chunk_id(r) for rows in best.values() for r, _ in rows])
        sources = []
        for a in ranked:
            passages = [Passage(**{**stored[cid].__dict__, "dense": float(chunk_dense[r]), "bm25": float(chunk_keyword[r]),
                                   "fused": score})
                        for r, score in best[a] if (cid := kw.chunk_id(r)) in stored]
            if passages:  # an article removed since this retriever opened is left out
                sources.append(Source(kw.doc_id(a), passages, float(fused[a])))
        return sources

    def _best_rows(self, article: int, dense: np.ndarray, keyword: np.ndarray) -> list[tuple[int, float]]:
        """An article's best passage rows with their scores: those the two passage rankings agree on first."""
        members = range(int(self.keywords.starts[article]), int(self.keywords.starts[article + 1]))
        dense_rank = {i: r for r, i in enumerate(sorted(members, key=lambda i: -dense[i]))}
        keyword_rank = {i: r for r, i in enumerate(sorted(members, key=lambda i: -keyword[i]))}
        fused = {i: 1.0 / (self.rrf_k + dense_rank[i] + 1) + 1.0 / (self.rrf_k + keyword_rank[i] + 1) for i in members}
        return [(i, fused[i]) for i in sorted(members, key=lambda i: -fused[i])[:PASSAGES_PER_SOURCE]]

    @staticmethod
    def _cosines(vector: list[float], matrix: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to each row of the matrix."""
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        return (matrix @ query) / np.where(norms == 0, 1.0, norms)
