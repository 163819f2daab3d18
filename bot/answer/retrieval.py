"""Hybrid retrieval ranked by article, so that one article is one source.

Four rankings of articles are fused by reciprocal rank: dense similarity (Chroma, cosine) of an
article's two best passages (weighted double), BM25 (bm25s) of its two best passages, BM25 of the whole article,
and BM25 of its title, summary and tags. Passage-level lists alone let one vivid passage of an
off-topic article beat an article that answers the question in words spread over several
passages; the article-level lists catch those (measured in BENCHMARKS.md: MRR@10 0.80 -> 0.86).

The keyword indexes are built from the chunks stored in Chroma when the retriever is created, so
they are always in step with the vector index, whoever wrote it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import bm25s
import numpy as np

from bot.core.index import DOC_ID, IndexStore
from bot.core.text import STEMMER, inverse_document_frequencies
from bot.core.types import Passage, Source

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)
RRF_K = 3  # measured on the bundled question set (157 articles, even half): 3 > 5 > 8 > 10 > 20 > 60
# Dense similarity counts twice in the fusion: with 157 articles, the keyword lists let an article
# that shares a question's everyday words ("AGI", "just", "could") outrank the one that answers it.
DENSE_WEIGHT = 2.0
CANDIDATES = 40  # dense passages asked of Chroma; their articles become candidates
ARTICLE_CANDIDATES = 20  # best articles taken from each keyword ranking
PASSAGES_PER_SOURCE = 2
DECAY = 0.5  # an article's passage score: its best passage plus half its second best, averaged


def _keyword_text(p: Passage) -> str:
    return " ".join([p.title, *p.headings, p.text])


def _tokens(texts: list[str]):
    return bm25s.tokenize(texts, stopwords="en", stemmer=STEMMER, show_progress=False)


def _bm25(corpus: tuple[list[list[int]], dict[str, int]]) -> bm25s.BM25:
    """A BM25 index of tokenized documents: (token id lists, vocabulary), as `_tokens` returns."""
    index = bm25s.BM25()
    if corpus[0]:
        index.index(corpus, show_progress=False)
    return index


class Groups:
    """Passages grouped by article, for per-article aggregates computed without sorting scores."""

    def __init__(self, owner: np.ndarray, n_groups: int) -> None:
        self.sizes = np.bincount(owner, minlength=n_groups)
        if (self.sizes == 0).any():
            raise ValueError("every article needs at least one passage")
        self.order = np.argsort(owner, kind="stable")  # passages, article by article
        self.starts = np.cumsum(self.sizes) - self.sizes
        self.members = [self.order[start:start + size].tolist() for start, size in zip(self.starts, self.sizes, strict=True)]

    def best_two(self, scores: np.ndarray) -> np.ndarray:
        """Per article: (best + DECAY * second best) / (1 + DECAY) of its passages' scores.

        Two good passages beat one, but a long article cannot win on many weak ones; an article
        of one passage counts it twice.
        """
        if not len(scores):
            return np.zeros(0)
        grouped = scores[self.order]
        best = np.maximum.reduceat(grouped, self.starts)
        is_best = grouped == np.repeat(best, self.sizes)
        tied = np.add.reduceat(is_best, self.starts) > 1
        rest = np.maximum.reduceat(np.where(is_best, -np.inf, grouped), self.starts)
        second = np.where((self.sizes == 1) | tied, best, rest)
        return (best + DECAY * second) / (1 + DECAY)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """0-based rank of every entry, best (highest) first; -inf entries rank last."""
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
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


RANKINGS = ("dense", "passage_bm25", "article_bm25", "field_bm25")


class Retriever:
    def __init__(self, store: IndexStore, embeddings, rankings: tuple[str, ...] = RANKINGS, rrf_k: int = RRF_K) -> None:
        unknown = set(rankings) - set(RANKINGS)
        if unknown or not rankings:
            raise ValueError(f"rankings must be some of {', '.join(RANKINGS)}; got {', '.join(rankings) or 'none'}")
        self.rankings = rankings  # which rankings are fused: all of them, except in ablation studies
        self.rrf_k = rrf_k
        self.store = store
        self.embeddings = embeddings
        # Stored vectors kept in memory (1.5 KB per chunk): Chroma finds the candidates, and
        # every passage of a candidate article is then scored exactly without another query.
        self.passages, self.vectors = store.all_passages_and_vectors()
        self.doc_ids = list(dict.fromkeys(p.doc_id for p in self.passages))
        article_of = {doc_id: i for i, doc_id in enumerate(self.doc_ids)}
        self.owner = np.asarray([article_of[p.doc_id] for p in self.passages], dtype=np.int64)
        self.groups = Groups(self.owner, len(self.doc_ids))
        self.members = self.groups.members  # passage indices of each article, in stored order
        self.chunk_index = {p.chunk_id: i for i, p in enumerate(self.passages)}
        firsts = [self.passages[m[0]] for m in self.members]
        # Tokenized once: each title, and each passage's headings and text. A passage's document
        # is its title + its tokens; an article's is its title + all its passages' tokens in order,
        # so words of an answer spread over several passages count together.
        tokens = _tokens([a.title for a in firsts] + [" ".join([*p.headings, p.text]) for p in self.passages])
        titles, bodies = tokens.ids[:len(firsts)], tokens.ids[len(firsts):]
        self.bm25 = _bm25(([titles[a] + body for a, body in zip(self.owner, bodies, strict=True)], dict(tokens.vocab)))
        in_order = [sorted(m, key=lambda i: self.passages[i].position) for m in self.members]
        self.article_bm25 = _bm25(([titles[a] + [t for i in rows for t in bodies[i]] for a, rows in enumerate(in_order)],
                                   dict(tokens.vocab)))
        # The fields that say what an article is about: title, summary, tags.
        self.field_bm25 = _bm25(_tokens([" ".join([a.title, a.summary, *(t.replace("-", " ") for t in a.tags)])
                                              for a in firsts]))
        keyword_texts = [_keyword_text(p) for p in self.passages]
        # Word rarity across the library, for weighing citation support (bot.answer.citations).
        self.idf = inverse_document_frequencies(keyword_texts)
        self.centroid = self._centroid()

    def reloaded(self, store: IndexStore | None = None) -> Retriever:
        """A retriever over what the store (or a reopened one) holds now, fused the same way."""
        return Retriever(store or self.store, self.embeddings, self.rankings, self.rrf_k)

    def _centroid(self) -> np.ndarray:
        """The library's mean direction: what "on topic" looks like to the embedding model."""
        if not len(self.vectors):
            return np.zeros(1, dtype=np.float32)
        mean = self.vectors.mean(axis=0)
        return mean / (np.linalg.norm(mean) or 1.0)

    def topicality(self, vector: list[float]) -> float:
        """Cosine similarity of a query to the library as a whole (off-topic questions score low)."""
        if self.centroid.shape != (len(vector),):
            return 0.0
        return float(np.asarray(vector, dtype=np.float32) @ self.centroid)

    def embed(self, query: str) -> list[float]:
        return self.embeddings.embed_query(re.sub(r"\s+", " ", query).strip())

    @staticmethod
    def _scores(index: bm25s.BM25, words: list[str], size: int) -> np.ndarray:
        """BM25 score of every document in the index (zeros when no query word is known to it)."""
        vocabulary = getattr(index, "vocab_dict", None) or {}
        known = [w for w in words if w in vocabulary]
        return np.asarray(index.get_scores(known), dtype=np.float64) if known else np.zeros(size)

    def search(self, query: str, k: int, filters: Filters = Filters(),
               vector: list[float] | None = None) -> list[Source]:
        """The k best articles for the query, each with up to two passages (best first)."""
        query = re.sub(r"\s+", " ", query).strip()
        vector = vector if vector is not None else self.embed(query)
        n_articles = len(self.doc_ids)
        allowed = np.ones(n_articles, dtype=bool)
        where = None
        if filters:
            allowed = np.asarray([filters.accepts(self.passages[m[0]]) for m in self.members], dtype=bool)
            if not allowed.any():
                return []
            where = {DOC_ID: {"$in": [d for d, ok in zip(self.doc_ids, allowed, strict=True) if ok]}}

        words = bm25s.tokenize([query], stopwords="en", stemmer=STEMMER, return_ids=False, show_progress=False)[0]
        chunk_keyword = self._scores(self.bm25, words, len(self.passages))
        keyword_lists = {
            "passage_bm25": self.groups.best_two(chunk_keyword),
            "article_bm25": self._scores(self.article_bm25, words, n_articles),
            "field_bm25": self._scores(self.field_bm25, words, n_articles),
        }
        keyword_lists = {name: scores for name, scores in keyword_lists.items() if name in self.rankings}
        hits = self.store.query(vector, min(CANDIDATES, len(self.passages)), where=where)
        candidates = {self._owner_of(p.chunk_id) for p in hits}
        ranks = []
        for scores in keyword_lists.values():
            scores[~allowed] = -np.inf
            ranks.append(_ranks(scores))
            candidates.update(np.flatnonzero((ranks[-1] < ARTICLE_CANDIDATES) & (scores > 0)).tolist())
        candidates.discard(-1)
        if not candidates:
            return []
        chosen = sorted(candidates)
        rows = [i for a in chosen for i in self.members[a]]
        chunk_dense = np.full(len(self.passages), -np.inf)
        chunk_dense[rows] = self._cosines(vector, rows)
        dense = self.groups.best_two(chunk_dense)

        weights = [1.0] * len(ranks)
        if "dense" in self.rankings:
            ranks.insert(0, _ranks(dense))  # first: the sum's order decides exact ties, as measured
            weights.insert(0, DENSE_WEIGHT)
        fused = np.zeros(n_articles)
        for weight, rank in zip(weights, ranks, strict=True):
            fused += weight / (self.rrf_k + rank + 1)
        ranked = sorted(chosen, key=lambda a: -fused[a])[:k]
        return [self._source(a, fused[a], chunk_dense, chunk_keyword) for a in ranked]

    def _owner_of(self, chunk_id: str) -> int:
        """The article index of a stored chunk; -1 for one written after this retriever was built."""
        index = self.chunk_index.get(chunk_id)
        return -1 if index is None else int(self.owner[index])

    def _source(self, article: int, score: float, dense: np.ndarray, keyword: np.ndarray) -> Source:
        """An article with its best passages: those the two passage rankings agree on first."""
        members = self.members[article]
        dense_rank = {i: r for r, i in enumerate(sorted(members, key=lambda i: -dense[i]))}
        keyword_rank = {i: r for r, i in enumerate(sorted(members, key=lambda i: -keyword[i]))}
        fused = {i: 1.0 / (self.rrf_k + dense_rank[i] + 1) + 1.0 / (self.rrf_k + keyword_rank[i] + 1) for i in members}
        best = sorted(members, key=lambda i: -fused[i])[:PASSAGES_PER_SOURCE]
        passages = [Passage(**{**self.passages[i].__dict__, "dense": float(dense[i]), "bm25": float(keyword[i]),
                               "fused": fused[i]}) for i in best]
        return Source(self.doc_ids[article], passages, float(score))

    def _cosines(self, vector: list[float], rows: list[int]) -> np.ndarray:
        """Cosine similarity of the query to the given stored chunks."""
        query = np.asarray(vector, dtype=np.float32)
        matrix = self.vectors[rows]
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        return (matrix @ query) / np.where(norms == 0, 1.0, norms)
