"""The keyword side of the index, persisted next to the vector index and read in place by readers.

A process that answers used to read every chunk out of Chroma and build its BM25 indexes before
the first answer (about 50 s at 100k chunks). Instead, every write to the library also writes
the articles it touched into a new *segment*: a directory of numpy arrays holding, for those
articles, term counts of each passage (title + headings + text), of each whole article, of each
article's title, summary and tags, and of the content words used to weigh citation support, plus
the passages' chunk ids and vectors. A `manifest.json`, replaced atomically, lists the live
segments and the articles in them that a later write replaced or removed. Readers open the
manifest, map the small arrays and read postings and vectors from disk per question, so start-up
and memory cost the same at any size; scores are computed at
query time from the live rows' statistics, so they equal those of one index built from scratch
(bm25s's "lucene" BM25, checked against bm25s in the tests). Small segments are merged as they
accumulate; a writer that dies leaves a journal of the articles it was touching, and the next
writer (or reader, when nobody writes) re-reads those articles from Chroma.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import bm25s
import numpy as np
from scipy import sparse

from bot.core.text import STEMMER, content_words

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)

K1, B = 1.5, 0.75  # bm25s's defaults, so scores match the in-memory indexes they replace
MAX_TERM = 40  # longer "words" are URLs, hashes and base64: counted in lengths, not indexed
FLUSH_CHUNKS = 50_000  # passages per segment written by a sync (bounds a writer's memory)
MAX_SEGMENTS = 8  # more than this, and the smaller half is merged into one
FETCH_ARTICLES = 200  # articles read back from the vector store per request
# Fields over passages and over articles: which rows their scores are for.
PASSAGE_FIELDS = ("passage", "words")
ARTICLE_FIELDS = ("article", "field")
MANIFEST = "manifest.json"
JOURNAL = "journal.txt"


@dataclass
class ArticleDraft:
    """One article as a segment stores it: its passages in reading order with their vectors."""

    doc_id: str
    title: str
    summary: str
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    date: str
    source: str
    chunk_ids: list[str] = field(default_factory=list)
    headings: list[tuple[str, ...]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class ArticleFacts:
    """What retrieval filters on, per article: read from a segment only when a filter asks."""

    title: str
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    date: str
    source: str


def _tokenize(texts: list[str]) -> tuple[list[list[int]], list[str]]:
    """bm25s's tokenizer (English stopwords, the shared stemmer): token ids and the vocabulary."""
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=STEMMER, show_progress=False)
    vocab = [""] * len(tokens.vocab)
    for term, i in tokens.vocab.items():
        vocab[i] = term
    return tokens.ids, vocab


def _counts(ids: list[list[int]], width: int) -> sparse.csr_matrix:
    """Rows of term counts from token id lists (repeated tokens summed)."""
    lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
    cols = np.fromiter((t for row in ids for t in row), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(ids)), lengths)
    return sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(ids), width))


def _sorted_field(counts: sparse.csr_matrix, vocab: list[str]) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray]:
    """A freshly counted field as it is stored: columns in vocabulary order (binary search finds
    a term), junk terms left out of the columns but not of the lengths."""
    lengths = np.asarray(counts.sum(axis=1)).ravel().astype(np.float32)
    keep = [i for i, term in enumerate(vocab) if term and len(term) <= MAX_TERM]
    keep.sort(key=lambda i: vocab[i])
    width = max((len(vocab[i]) for i in keep), default=1)
    return counts.tocsc()[:, keep].tocsc(), np.asarray([vocab[i] for i in keep], dtype=f"<U{width}"), lengths


def _save_field(directory: Path, name: str, by_term: sparse.csc_matrix, vocab: np.ndarray, lengths: np.ndarray) -> None:
    """A field as memory-mappable arrays: its sorted vocabulary, and its counts column by column
    (a query word's postings are one slice)."""
    by_term.sort_indices()
    np.save(directory / f"{name}.vocab.npy", vocab)
    np.save(directory / f"{name}.indptr.npy", by_term.indptr.astype(np.int64))
    np.save(directory / f"{name}.rows.npy", by_term.indices.astype(np.int32))
    np.save(directory / f"{name}.tf.npy", by_term.data.astype(np.float32))
    np.save(directory / f"{name}.len.npy", lengths.astype(np.float32))


def _unicode(values: Sequence[str]) -> np.ndarray:
    return np.asarray(values, dtype=f"<U{max(map(len, values), default=1)}")


def _new_segment(root: Path) -> tuple[str, Path]:
    name = f"seg-{uuid.uuid4().hex[:12]}"
    tmp = root / f".{name}.tmp"
    tmp.mkdir(parents=True)
    return name, tmp


def _finish(root: Path, name: str, tmp: Path, chunk_ids: Sequence[str], doc_ids: Sequence[str], sizes: np.ndarray,
            vectors: np.ndarray, facts: list[list]) -> str:
    """The arrays every segment has besides its fields; then the directory gets its name (a
    segment is complete before it is named, so a kill leaves at most an unreferenced directory)."""
    np.save(tmp / "chunk_ids.npy", _unicode(chunk_ids))
    np.save(tmp / "doc_ids.npy", _unicode(doc_ids))
    np.save(tmp / "starts.npy", np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    np.save(tmp / "vectors.npy", vectors.reshape(len(chunk_ids), -1))
    (tmp / "articles.json").write_text(json.dumps(facts, ensure_ascii=False), encoding="utf-8")
    (tmp / "meta.json").write_text(json.dumps({
        "articles": len(doc_ids), "passages": len(chunk_ids),
        "vector_sum": vectors.sum(axis=0, dtype=np.float64).tolist() if len(vectors) else [],
    }), encoding="utf-8")
    tmp.rename(root / name)
    return name


def write_segment(root: Path, drafts: Sequence[ArticleDraft]) -> str:
    """Write the articles as a new segment under `root`; returns its name."""
    name, tmp = _new_segment(root)
    sizes = np.asarray([len(d.chunk_ids) for d in drafts], dtype=np.int64)
    owner = np.repeat(np.arange(len(drafts)), sizes)
    bodies = [" ".join([*h, t]) for d in drafts for h, t in zip(d.headings, d.texts, strict=True)]
    # Tokenized as the in-memory indexes were: titles and bodies apart, a passage's document is
    # its title + its body, an article's is its title + all its bodies in order.
    ids, vocab = _tokenize([d.title for d in drafts] + bodies)
    titles = _counts(ids[:len(drafts)], len(vocab))
    body = _counts(ids[len(drafts):], len(vocab))
    to_article = sparse.csr_matrix((np.ones(len(owner), dtype=np.float32), (owner, np.arange(len(owner)))),
                                   shape=(len(drafts), len(owner)))
    _save_field(tmp, "passage", *_sorted_field(body + titles[owner], vocab))
    _save_field(tmp, "article", *_sorted_field(to_article @ body + titles, vocab))
    field_ids, field_vocab = _tokenize([" ".join([d.title, d.summary, *(t.replace("-", " ") for t in d.tags)])
                                        for d in drafts])
    _save_field(tmp, "field", *_sorted_field(_counts(field_ids, len(field_vocab)), field_vocab))
    words: dict[str, int] = {}
    word_ids = [[words.setdefault(w, len(words)) for w in content_words(" ".join([d.title, *h, t]))]
                for d in drafts for h, t in zip(d.headings, d.texts, strict=True)]
    _save_field(tmp, "words", *_sorted_field(_counts(word_ids, len(words)), list(words)))
    vectors = np.asarray([v for d in drafts for v in d.vectors], dtype=np.float32)
    facts = [[d.title, list(d.tags), list(d.authors), d.date, d.source] for d in drafts]
    return _finish(root, name, tmp, [c for d in drafts for c in d.chunk_ids], [d.doc_id for d in drafts],
                   sizes, vectors, facts)


def _mapped(path: Path) -> np.ndarray:
    """A saved array, memory-mapped (read as pages are touched), as a plain ndarray view: slicing
    a np.memmap costs several times more per call."""
    return np.asarray(np.load(path, mmap_mode="r"))


class _OnDisk:
    """A saved array read with `pread`, a run of rows at a time. What it reads passes through the
    page cache but is never mapped into the process, so an answering process holds only what its
    current question needs: mapped, the vectors and postings that a few hundred questions had
    touched stayed resident (2 GB of a million-passage library's 4.5 GB peak)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - kept open for the segment's lifetime
        version = np.lib.format.read_magic(self._file)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        self.shape, fortran, self.dtype = read_header[version](self._file)
        if fortran:
            raise ValueError(f"{path} is stored in Fortran order, which the keyword index never writes")
        self._offset = self._file.tell()
        self._row = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def range(self, start: int, end: int) -> np.ndarray:
        """Rows start..end-1."""
        data = os.pread(self._file.fileno(), (end - start) * self._row, self._offset + start * self._row)
        return np.frombuffer(data, dtype=self.dtype).reshape((end - start, *self.shape[1:]))

    def take(self, rows: np.ndarray) -> np.ndarray:
        """These rows, in this order (repeats allowed): one read per run of consecutive rows."""
        wanted, back = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
        if not len(wanted):
            return np.zeros((0, *self.shape[1:]), dtype=self.dtype)
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        runs = [self.range(int(run[0]), int(run[-1]) + 1) for run in np.split(wanted, breaks)]
        return np.concatenate(runs)[back]

    def whole(self) -> np.ndarray:
        return self.range(0, len(self))


class _Field:
    """One field of one segment: the vocabulary, offsets and lengths memory-mapped (small, and
    read all over), the postings read from disk per term."""

    def __init__(self, directory: Path, name: str) -> None:
        self.vocab = _mapped(directory / f"{name}.vocab.npy")
        self.indptr = _mapped(directory / f"{name}.indptr.npy")
        self.rows = _OnDisk(directory / f"{name}.rows.npy")
        self.tf = _OnDisk(directory / f"{name}.tf.npy")
        self.lengths = _mapped(directory / f"{name}.len.npy")

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows holding the term and its count in each (empty when the segment lacks it)."""
        i = int(np.searchsorted(self.vocab, term))
        if i >= len(self.vocab) or self.vocab[i] != term:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, end = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.rows.range(start, end), self.tf.range(start, end)


class _Segment:
    def __init__(self, directory: Path, dead: Iterable[int]) -> None:
        self.directory = directory
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        self.n_articles, self.n_passages = int(meta["articles"]), int(meta["passages"])
        self.vector_sum = np.asarray(meta["vector_sum"], dtype=np.float64)
        self.fields = {name: _Field(directory, name) for name in (*PASSAGE_FIELDS, *ARTICLE_FIELDS)}
        self.doc_ids = _mapped(directory / "doc_ids.npy")
        self.starts = np.load(directory / "starts.npy")
        self.chunk_ids = _mapped(directory / "chunk_ids.npy")
        self.vectors = _OnDisk(directory / "vectors.npy")
        self.dead = sorted(dead)
        self.article_live = np.ones(self.n_articles, dtype=bool)
        self.article_live[self.dead] = False
        self.passage_live = np.repeat(self.article_live, np.diff(self.starts))

    @cached_property
    def facts(self) -> list[ArticleFacts]:
        rows = json.loads((self.directory / "articles.json").read_text(encoding="utf-8"))
        return [ArticleFacts(title, tuple(tags), tuple(authors), date, source) for title, tags, authors, date, source in rows]


def _load_manifest(root: Path) -> dict:
    try:
        return json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"segments": [], "passages": 0}


class KeywordIndex:
    """A reader's view of the committed keyword index: global article and passage rows are the
    segments' rows one after another (dead ones included, masked)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = _load_manifest(root)
        self.segments = [_Segment(root / s["name"], s["dead"]) for s in self.manifest["segments"]]
        self.article_offsets = np.cumsum([0] + [s.n_articles for s in self.segments])
        self.passage_offsets = np.cumsum([0] + [s.n_passages for s in self.segments])
        self.article_live = np.concatenate([s.article_live for s in self.segments] or [np.zeros(0, dtype=bool)])
        self.passage_live = np.concatenate([s.passage_live for s in self.segments] or [np.zeros(0, dtype=bool)])
        # Passage rows of article a: starts[a]:starts[a + 1] (articles' rows are contiguous).
        self.starts = np.concatenate([s.starts[:-1] + off for s, off in zip(self.segments, self.passage_offsets, strict=False)]
                                     + [self.passage_offsets[-1:]]).astype(np.int64)
        self.sizes = np.diff(self.starts)
        self._stats: dict[str, tuple[int, float]] = {}
        self._df_cache: dict[str, int] = {}
        for name in (*PASSAGE_FIELDS, *ARTICLE_FIELDS):
            live = [s.passage_live if name in PASSAGE_FIELDS else s.article_live for s in self.segments]
            total = sum(float(np.asarray(s.fields[name].lengths)[m].sum()) for s, m in zip(self.segments, live, strict=True))
            count = sum(int(m.sum()) for m in live)
            self._stats[name] = (count, total / count if count else 1.0)

    @property
    def n_articles(self) -> int:
        return int(self.article_offsets[-1])

    @property
    def n_passages(self) -> int:
        return int(self.passage_offsets[-1])

    @property
    def live_passages(self) -> int:
        return self._stats["passage"][0]

    @property
    def generation(self) -> str:
        """Names what this view holds: changes with every committed write."""
        return str(self.manifest.get("generation", ""))

    @cached_property
    def article_of_doc(self) -> dict[str, int]:
        """Global article row of each live doc_id."""
        out: dict[str, int] = {}
        for s, off in zip(self.segments, self.article_offsets, strict=False):
            for local in np.flatnonzero(s.article_live):
                out[str(s.doc_ids[local])] = int(off + local)
        return out

    def _locate(self, row: int, offsets: np.ndarray) -> tuple[_Segment, int]:
        s = int(np.searchsorted(offsets, row, side="right")) - 1
        return self.segments[s], row - int(offsets[s])

    def doc_id(self, article: int) -> str:
        segment, local = self._locate(article, self.article_offsets)
        return str(segment.doc_ids[local])

    def facts(self, article: int) -> ArticleFacts:
        segment, local = self._locate(article, self.article_offsets)
        return segment.facts[local]

    def chunk_id(self, row: int) -> str:
        segment, local = self._locate(row, self.passage_offsets)
        return str(segment.chunk_ids[local])

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of these passage rows, read from the segments that hold them."""
        rows = np.asarray(rows, dtype=np.int64)
        which = np.searchsorted(self.passage_offsets, rows, side="right") - 1
        dim = next((s.vectors.shape[1] for s in self.segments if s.n_passages), 0)
        out = np.zeros((len(rows), dim), dtype=np.float32)
        for s in np.unique(which):
            mask = which == s
            out[mask] = self.segments[s].vectors.take(rows[mask] - self.passage_offsets[s])
        return out

    def centroid(self) -> np.ndarray:
        """The live passages' mean vector, normalised: what "on topic" looks like."""
        total = None
        for s in self.segments:
            if not s.n_passages:
                continue
            part = s.vector_sum.copy()
            dead = np.flatnonzero(~s.passage_live)
            if len(dead):
                part -= s.vectors.take(dead).astype(np.float64).sum(axis=0)
            total = part if total is None else total + part
        if total is None:
            return np.zeros(1, dtype=np.float32)
        return (total / (np.linalg.norm(total) or 1.0)).astype(np.float32)

    @cached_property
    def _norms(self) -> dict[tuple[int, str], np.ndarray]:
        """Per segment and field, each row's BM25 length norm k1 * (1 - b + b * length / average)."""
        out = {}
        for i, s in enumerate(self.segments):
            for name, f in s.fields.items():
                out[i, name] = (K1 * ((1 - B) + B * f.lengths / self._stats[name][1])).astype(np.float32)
        return out

    def _postings(self, name: str, term: str) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
        """Live postings of a term in every segment: (segment, row offset, rows, counts)."""
        out = []
        passages = name in PASSAGE_FIELDS
        for i, (s, a_off, p_off) in enumerate(zip(self.segments, self.article_offsets, self.passage_offsets, strict=False)):
            rows, tf = s.fields[name].postings(term)
            if len(rows) and s.dead:
                live = (s.passage_live if passages else s.article_live)[rows]
                rows, tf = rows[live], tf[live]
            if len(rows):
                out.append((i, int(p_off if passages else a_off), rows, tf))
        return out

    def bm25(self, name: str, words: Sequence[str]) -> np.ndarray:
        """BM25 score of every row of the field for the query words (a repeated word counts again,
        as in bm25s); dead rows score 0."""
        scores = np.zeros(self.n_passages if name in PASSAGE_FIELDS else self.n_articles, dtype=np.float32)
        n_docs, _ = self._stats[name]
        for term in words:
            postings = self._postings(name, term)
            df = sum(len(rows) for _, _, rows, _ in postings)
            if not df:
                continue
            idf = np.float32(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)))
            for segment, offset, rows, tf in postings:
                scores[offset + rows] += idf * tf / (self._norms[segment, name][rows] + tf)
        return scores

    def live_chunk_ids(self) -> Iterator[str]:
        for s in self.segments:
            yield from np.asarray(s.chunk_ids)[s.passage_live].tolist()

    def passages_with(self, word: str) -> int:
        """How many live passages use the content word (its document frequency)."""
        if word not in self._df_cache:
            self._df_cache[word] = sum(len(rows) for _, _, rows, _ in self._postings("words", word))
        return self._df_cache[word]


class Journal:
    """The articles a writer is changing, recorded before it changes them in Chroma: a writer that
    dies leaves the list, and whoever syncs next re-reads those articles."""

    def __init__(self, root: Path) -> None:
        self.path = root / JOURNAL

    def add(self, doc_ids: Iterable[str]) -> None:
        lines = "".join(json.dumps(d) + "\n" for d in dict.fromkeys(doc_ids))
        if lines:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(lines)
                f.flush()

    def pending(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the last line of a writer killed mid-write
        return list(dict.fromkeys(out))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _commit(root: Path, manifest: dict) -> None:
    manifest["generation"] = uuid.uuid4().hex
    tmp = root / f"{MANIFEST}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(manifest, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / MANIFEST)


def _collect_garbage(root: Path, manifest: dict) -> None:
    """Segments no manifest names (merged away, or left by a killed writer). A reader that still
    maps one keeps its files until it closes them."""
    named = {s["name"] for s in manifest["segments"]}
    for path in root.glob("*seg-*"):
        if path.is_dir() and path.name not in named:
            shutil.rmtree(path, ignore_errors=True)


Fetch = Callable[[list[str]], list[ArticleDraft]]


def _apply(root: Path, manifest: dict, doc_ids: Sequence[str], fetch: Fetch) -> dict:
    """Replace these articles' entries with what the vector store holds for them now (absent
    there: removed), in new segments committed with one manifest write."""
    wanted = set(doc_ids)
    for s in manifest["segments"]:
        ids = np.load(root / s["name"] / "doc_ids.npy", mmap_mode="r")
        s["dead"] = sorted(set(s["dead"]) | {i for i, d in enumerate(ids.tolist()) if d in wanted})
    names = []
    batch: list[ArticleDraft] = []
    for start in range(0, len(doc_ids), FETCH_ARTICLES):
        batch += fetch(list(doc_ids[start:start + FETCH_ARTICLES]))
        if sum(len(d.chunk_ids) for d in batch) >= FLUSH_CHUNKS:
            names.append(write_segment(root, batch))
            batch = []
    if batch:
        names.append(write_segment(root, batch))
    manifest["segments"] += [{"name": n, "dead": []} for n in names]
    return _committed(root, manifest)


def _live_passages(root: Path, manifest: dict) -> int:
    total = 0
    for s in manifest["segments"]:
        sizes = np.diff(np.load(root / s["name"] / "starts.npy"))
        total += int(sizes.sum() - sizes[s["dead"]].sum())
    return total


def _committed(root: Path, manifest: dict) -> dict:
    """Drop segments with nothing live, count what is live, and commit the manifest."""
    segments = []
    for s in manifest["segments"]:
        n = len(np.load(root / s["name"] / "doc_ids.npy", mmap_mode="r"))
        if len(s["dead"]) < n:
            segments.append(s)
    manifest["segments"] = segments
    manifest["passages"] = _live_passages(root, manifest)
    _commit(root, manifest)
    return manifest


def _merge(root: Path, entries: list[dict]) -> str:
    """One segment holding the live articles of several: their counts copied column by column
    into a shared vocabulary (nothing is tokenized again)."""
    segments = [_Segment(root / e["name"], e["dead"]) for e in entries]
    name, tmp = _new_segment(root)
    for field_name in (*PASSAGE_FIELDS, *ARTICLE_FIELDS):
        fields = [s.fields[field_name] for s in segments]
        vocab = np.unique(np.concatenate([np.asarray(f.vocab) for f in fields]))
        blocks, lengths = [], []
        for s, f in zip(segments, fields, strict=True):
            live = s.passage_live if field_name in PASSAGE_FIELDS else s.article_live
            by_term = sparse.csc_matrix((f.tf.whole(), f.rows.whole(), np.asarray(f.indptr)),
                                        shape=(len(live), len(f.vocab)))
            kept = by_term.tocsr()[live].tocoo()
            columns = np.searchsorted(vocab, np.asarray(f.vocab))
            blocks.append(sparse.csr_matrix((kept.data, (kept.row, columns[kept.col])), shape=(int(live.sum()), len(vocab))))
            lengths.append(np.asarray(f.lengths)[live])
        _save_field(tmp, field_name, sparse.vstack(blocks).tocsc(), vocab, np.concatenate(lengths))
    chunk_ids, doc_ids, sizes, vectors, facts = [], [], [], [], []
    for s in segments:
        live = np.flatnonzero(s.article_live)
        doc_ids += np.asarray(s.doc_ids)[live].tolist()
        sizes.append(np.diff(s.starts)[live])
        rows = np.flatnonzero(s.passage_live)
        chunk_ids += np.asarray(s.chunk_ids)[rows].tolist()
        vectors.append(s.vectors.take(rows))
        facts += [[f.title, list(f.tags), list(f.authors), f.date, f.source] for f in (s.facts[i] for i in live)]
    return _finish(root, name, tmp, chunk_ids, doc_ids, np.concatenate(sizes), np.concatenate(vectors), facts)


def _compacted(root: Path, manifest: dict) -> dict:
    """While there are more than MAX_SEGMENTS segments, the smaller half becomes one: a query
    touches few segments, and each article is copied O(log n) times over the library's life."""
    while len(manifest["segments"]) > MAX_SEGMENTS:
        by_size = sorted(manifest["segments"], key=lambda s: len(np.load(root / s["name"] / "doc_ids.npy", mmap_mode="r")))
        small = by_size[:max(2, len(by_size) // 2)]
        merged = _merge(root, small)
        names = {s["name"] for s in small}
        manifest["segments"] = [s for s in manifest["segments"] if s["name"] not in names] + [{"name": merged, "dead": []}]
        manifest = _committed(root, manifest)
    return manifest


def reset(root: Path) -> None:
    """An empty keyword index (the vector collection was dropped)."""
    root.mkdir(parents=True, exist_ok=True)
    _committed(root, {"segments": []})
    Journal(root).clear()
    _collect_garbage(root, {"segments": []})


def in_step(root: Path, collection_id: str) -> bool:
    """Whether a reader may open the committed index as it is: no writer's journal is left, and
    it was last synced with this very collection (a dropped and re-created collection, or another
    server, has another id). Writers check more (the chunk count, which costs a second on a large
    collection): see sync."""
    manifest = _load_manifest(root)
    return not Journal(root).pending() and manifest.get("collection") == collection_id


def sync(root: Path, fetch: Fetch, stored_chunks: int, all_doc_ids: Callable[[], list[str]], collection_id: str) -> None:
    """Bring the index in step with the vector store; the caller holds the library's write lock.
    The journal's articles are re-read; if the counts still disagree (an index built before
    keyword segments existed, a rebuild killed half way), every article is."""
    root.mkdir(parents=True, exist_ok=True)
    journal = Journal(root)
    manifest = _load_manifest(root)
    pending = journal.pending()
    if pending:
        manifest = _apply(root, manifest, pending, fetch)
    if manifest.get("passages", 0) != stored_chunks:
        log.warning("the keyword index is out of step with the vector index (%d passages, %d chunks); "
                    "indexing every article again", manifest.get("passages", 0), stored_chunks)
        manifest = _apply(root, {"segments": []}, all_doc_ids(), fetch)
    journal.clear()
    manifest = _compacted(root, manifest)
    if manifest.get("collection") != collection_id:
        manifest["collection"] = collection_id
        _commit(root, manifest)
    _collect_garbage(root, manifest)
