"""The index schema and access to Chroma, embedded under the data dir or a `chroma run` server.

Ingestion writes through this module and the bot reads through it, so the collection name,
the metadata keys and their encoding are defined here once.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from bot.core import keywords
from bot.core.keywords import ArticleDraft, Journal, KeywordIndex
from bot.core.settings import Settings
from bot.core.text import join_overlapping
from bot.core.types import Article, Passage, Reference
from bot.core.writes import LibraryBusy, library_write

log = logging.getLogger(__name__)

# Metadata keys stored on every chunk. Lists are stored as JSON strings.
DOC_ID = "doc_id"
TITLE = "title"
AUTHORS = "authors"
URL = "url"
DATE = "date"
SOURCE = "source"
TAGS = "tags"
SUMMARY = "summary"
REFERENCES = "references"
RELATED = "related"
HEADINGS = "headings"
POSITION = "position"
CONTENT_HASH = "content_hash"
ROOT = "root"  # the source (folder, file, URL list) the article came from, for pruning
LOCATION = "location"  # the file or URL the article was read from
EMBEDDING_MODEL = "embedding_model"  # collection metadata: vectors from two models never mix


SUMMARY_HEADING = "Summary"  # the heading of the chunk that holds an article's summary
PAGE = 5000  # rows per read when listing the whole collection


class IndexMissing(RuntimeError):
    """There is no index to read, or it is empty; the message says how to build it."""


class IndexDamaged(IndexMissing):
    """The embedded index's files are damaged; the message says how to recover."""


def _forget_engine(settings: Settings) -> None:
    """Drop this process's cached Chroma engine for the data dir's index, so the next client
    reads the files afresh (chromadb keeps one engine per path and process, and no public call
    drops one; clients still holding the old engine go on working until they are dropped)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(settings.chroma_dir), None)


@contextmanager
def _intact(settings: Settings) -> Iterator[None]:
    """Reading the embedded index's files: Chroma's internal errors there mean damaged files."""
    import chromadb.errors

    try:
        yield
    except chromadb.errors.InternalError as exc:
        if settings.chroma_url:
            raise
        _forget_engine(settings)  # a half-started engine would otherwise be reused
        raise IndexDamaged(
            f"the index in {settings.chroma_dir.resolve()} is damaged ({exc}): restore your last backup with "
            "`python -m ingest --restore-backup DIR`, or build the index again from your articles with "
            "`python -m ingest --rebuild [PATH ...]` (the damaged files are kept aside, not deleted)"
        ) from exc


def set_aside_damaged(settings: Settings) -> Path:
    """Move a damaged embedded index out of the way, kept for inspection, so a new one can be built."""
    _forget_engine(settings)
    target = settings.chroma_dir.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    settings.chroma_dir.rename(target)
    keywords.reset(settings.keywords_dir)
    log.warning("the damaged index was moved to %s", target)
    return target


class IndexUnavailable(RuntimeError):
    """The `chroma run` server did not answer (down or restarting); the next call tries again."""


def _client(settings: Settings, create: bool):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        parts = urlsplit(settings.chroma_url)
        if not parts.hostname:
            raise ValueError(f"ALIGNCHAT_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
        try:
            return chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain exceptions when the server is down
            raise IndexMissing(
                f"cannot reach the Chroma server at {settings.chroma_url} ({exc}): start it with "
                "`chroma run --path DIR`, or unset ALIGNCHAT_CHROMA_URL to use the embedded store"
            ) from exc
    if not create and not settings.chroma_dir.is_dir():
        raise IndexMissing(
            f"no index in {settings.chroma_dir.resolve()}: run `python -m ingest` to build it "
            "(or set ALIGNCHAT_DATA_DIR to the data dir that holds it)"
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    with _intact(settings):
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def encode_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def decode_list(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(json.loads(value))


def encode_references(refs: Sequence[Reference]) -> str:
    return json.dumps([r.to_json() for r in refs], ensure_ascii=False)


def decode_references(value: Any) -> tuple[Reference, ...]:
    return tuple(Reference.from_json(r) for r in json.loads(value)) if value else ()


def passage_from(chunk_id: str, text: str, meta: dict[str, Any], dense: float = 0.0) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        doc_id=meta[DOC_ID],
        text=text,
        title=meta.get(TITLE, ""),
        headings=decode_list(meta.get(HEADINGS)),
        authors=decode_list(meta.get(AUTHORS)),
        url=meta.get(URL, ""),
        date=meta.get(DATE, ""),
        source=meta.get(SOURCE, ""),
        tags=decode_list(meta.get(TAGS)),
        references=decode_references(meta.get(REFERENCES)),
        position=int(meta.get(POSITION, 0)),
        summary=sys.intern(meta.get(SUMMARY) or ""),
        related=decode_list(meta.get(RELATED)),
        dense=dense,
    )


def _markdown(passages: list[Passage]) -> str:
    """An article's passages (in order) as Markdown: each heading written where the heading path
    changes, the chunks of a section joined without their overlap."""
    sections: list[tuple[tuple[str, ...], list[str]]] = []
    for p in passages:
        if sections and sections[-1][0] == p.headings:
            sections[-1][1].append(p.text)
        else:
            sections.append((p.headings, [p.text]))
    blocks: list[str] = []
    above: tuple[str, ...] = ()
    for headings, parts in sections:
        shared = 0
        while shared < min(len(headings), len(above)) and headings[shared] == above[shared]:
            shared += 1
        blocks += ["#" * (level + 1) + " " + h for level, h in enumerate(headings) if level >= shared]
        blocks.append(join_overlapping(parts))
        above = headings
    return "\n\n".join(blocks)


def _article(passages: list[Passage]) -> Article:
    """One article from all its chunks: the text in order, with its headings, without the summary
    chunk (the summary is a field) and the overlap between neighbours."""
    passages = sorted(passages, key=lambda p: p.position)
    first = passages[0]
    if first.position == 0 and first.headings == (SUMMARY_HEADING,) and first.summary.startswith(first.text):
        passages = passages[1:] or passages
    return Article(doc_id=first.doc_id, title=first.title, text=_markdown(passages), authors=first.authors, url=first.url,
                   date=first.date, source=first.source, tags=first.tags, summary=first.summary,
                   references=first.references, related=first.related)


@dataclass
class ArticleInfo:
    """One indexed article, as the Library tab lists it."""

    doc_id: str
    title: str
    authors: tuple[str, ...]
    date: str
    tags: tuple[str, ...]
    url: str
    source: str
    chunks: int


@dataclass
class Records:
    """Stored chunks exactly as Chroma holds them: row i of `vectors` belongs to `ids[i]`."""

    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, Any]]
    vectors: np.ndarray


def _records(got: dict[str, Any]) -> Records:
    ids = list(got["ids"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    return Records(ids, [d or "" for d in got["documents"]], [dict(m or {}) for m in got["metadatas"]],
                   vectors.reshape(len(ids), vectors.shape[-1] if ids else 0))


@dataclass
class StoredChunk:
    chunk_id: str
    metadata: dict[str, Any]


class IndexStore:
    """One Chroma collection (cosine space) holding every chunk with its article's metadata."""

    def __init__(self, settings: Settings, create: bool = False) -> None:
        self.settings = settings
        self.client = _client(settings, create)
        import chromadb.errors

        with _intact(settings):
            if create:
                self.collection = self.client.get_or_create_collection(
                    settings.collection, configuration={"hnsw": {"space": "cosine"}},
                    metadata={EMBEDDING_MODEL: settings.embedding_model},
                )
            else:
                try:
                    self.collection = self.client.get_collection(settings.collection)
                except (chromadb.errors.NotFoundError, ValueError) as exc:
                    raise IndexMissing(
                        f"the index has no collection {settings.collection!r}: run `python -m ingest` "
                        "to build it"
                    ) from exc
        built_with = (self.collection.metadata or {}).get(EMBEDDING_MODEL)
        if built_with and built_with != settings.embedding_model:
            raise IndexMissing(
                f"the index was built with embedding model {built_with!r}, but "
                f"ALIGNCHAT_EMBEDDING_MODEL is {settings.embedding_model!r}: set it back, or run "
                "`python -m ingest --rebuild` to re-embed everything"
            )

    def reopened(self) -> IndexStore:
        """This index opened afresh, seeing what other processes wrote since: a cached embedded
        engine's reads go wrong after another process deleted chunks ("Error finding id")."""
        if not self.settings.chroma_url:
            _forget_engine(self.settings)
        return IndexStore(self.settings, create=False)

    def release(self) -> None:
        """Let go of the embedded engine's memory (its vector index, 2 GB at a million chunks)
        when this process is done with the index but goes on running; the store is unusable after."""
        del self.collection, self.client
        if not self.settings.chroma_url:
            _forget_engine(self.settings)
        gc.collect()

    @classmethod
    def open_for_reading(cls, settings: Settings) -> IndexStore:
        store = cls(settings, create=False)
        with _intact(settings):
            empty = not store.collection.get(limit=1, include=[])["ids"]  # count() reads the whole collection
        if empty:
            raise IndexMissing("the index is empty: run `python -m ingest` to add articles to it")
        return store

    def count(self) -> int:
        return self.collection.count()

    def _pages(self, include: list[str]) -> Iterator[dict[str, list]]:
        """The collection, read a page at a time: one unbounded get of a large index exceeds
        SQLite's variable limit."""
        offset = 0
        while True:
            with _intact(self.settings):
                page = self.collection.get(include=include, limit=PAGE, offset=offset)
            yield page
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE

    def _get_all(self, include: list[str]) -> dict[str, list]:
        """Everything in the collection, its pages joined."""
        out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        for page in self._pages(include):
            for key in out:
                out[key].extend(page[key])
        return out

    def all_chunks(self) -> list[StoredChunk]:
        got = self._get_all(["metadatas"])
        return [StoredChunk(i, m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=True)]

    @staticmethod
    def _passages(got: dict[str, list]) -> list[Passage]:
        return [
            passage_from(i, d or "", m or {})
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def stored_articles(self) -> list[Article]:
        """Every indexed article with its text put back together from its chunks: whole articles
        from whatever the index holds, wherever they were read from (the evaluation's baseline
        re-chunks them its own way)."""
        by_doc: dict[str, list[Passage]] = {}
        for passage in self._passages(self._get_all(["metadatas", "documents"])):
            by_doc.setdefault(passage.doc_id, []).append(passage)
        return [_article(passages) for passages in by_doc.values()]

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """A read made while answering: a server that does not answer is IndexUnavailable, worded."""
        try:
            yield
        except httpx.TransportError as exc:
            raise IndexUnavailable(
                f"The library's index server at {self.settings.chroma_url} is not answering "
                f"({exc.__class__.__name__}); it may be restarting. Ask again in a moment; if this goes on, "
                "check that `chroma run` is up."
            ) from exc

    def passages_of(self, doc_id: str) -> list[Passage]:
        """Every chunk of one article, in order, read with one filtered get (any index size)."""
        with self._answering():
            got = self.collection.get(where={DOC_ID: doc_id}, include=["metadatas", "documents"])
        return sorted(self._passages(got), key=lambda p: p.position)

    def article(self, doc_id: str) -> Article | None:
        """One article put back together from its chunks (None: not in the index): the article
        page opens one at a time."""
        passages = self.passages_of(doc_id)
        return _article(passages) if passages else None

    def titles(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """The titles of those of these articles the index holds, read with one filtered get:
        the article page names its related articles and leaves out any no longer indexed."""
        if not doc_ids:
            return {}
        with self._answering():
            got = self.collection.get(where={DOC_ID: {"$in": list(doc_ids)}}, include=["metadatas"])
        return {m[DOC_ID]: m.get(TITLE, "") for m in got["metadatas"] if m}

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article with its chunk count, sorted by title."""
        by_doc: dict[str, ArticleInfo] = {}
        for chunk in self.all_chunks():
            m = chunk.metadata
            info = by_doc.get(m.get(DOC_ID, ""))
            if info is None:
                by_doc[m.get(DOC_ID, "")] = ArticleInfo(
                    doc_id=m.get(DOC_ID, ""), title=m.get(TITLE, ""), authors=decode_list(m.get(AUTHORS)),
                    date=m.get(DATE, ""), tags=decode_list(m.get(TAGS)), url=m.get(URL, ""),
                    source=m.get(SOURCE, ""), chunks=1,
                )
            else:
                info.chunks += 1
        return sorted(by_doc.values(), key=lambda a: a.title.lower())

    def records_of(self, doc_id: str) -> Records:
        """Everything stored for one article (ids, texts, metadata, vectors): what the trash keeps."""
        return _records(self.collection.get(where={DOC_ID: doc_id}, include=["documents", "metadatas", "embeddings"]))

    def all_records(self) -> Iterator[Records]:
        """The whole collection, a page at a time (a backup streams it without holding it all)."""
        for got in self._pages(["documents", "metadatas", "embeddings"]):
            if got["ids"]:
                yield _records(got)

    def put(self, records: Records) -> None:
        """Store records as they were (a restore from the trash or a backup)."""
        self.upsert(records.ids, records.vectors.tolist(), records.documents, records.metadatas)

    # Every write names the articles it touches in the keyword index's journal first, so the
    # keyword index catches up with them even if the writer dies before it syncs.

    def upsert(self, ids: list[str], embeddings: list[list[float]], documents: list[str],
               metadatas: list[dict[str, Any]]) -> None:
        """Write chunks, a page per call (Chroma caps the batch size)."""
        self.journal.add(m[DOC_ID] for m in metadatas)
        for start in range(0, len(ids), PAGE):
            end = start + PAGE
            self.collection.upsert(ids=ids[start:end], embeddings=embeddings[start:end], documents=documents[start:end],
                                   metadatas=metadatas[start:end])

    def update_metadata(self, ids: list[str], metadatas: list[dict[str, Any]]) -> None:
        self.journal.add(m[DOC_ID] for m in metadatas)
        for start in range(0, len(ids), PAGE):
            self.collection.update(ids=ids[start:start + PAGE], metadatas=metadatas[start:start + PAGE])

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            page = list(ids[start:start + PAGE])
            got = self.collection.get(ids=page, include=["metadatas"])
            self.journal.add(m[DOC_ID] for m in got["metadatas"] if m)
            self.collection.delete(ids=page)

    def drop(self) -> None:
        """Delete the collection and its keyword index (a rebuild starts from nothing). The keyword
        index goes first: killed in between, the next writer finds chunks it lacks and indexes them."""
        keywords.reset(self.settings.keywords_dir)
        self.client.delete_collection(self.settings.collection)

    @property
    def journal(self) -> Journal:
        return Journal(self.settings.keywords_dir)

    def drafts(self, doc_ids: list[str]) -> list[ArticleDraft]:
        """These articles as the keyword index stores them, read back from Chroma (an article it
        no longer holds is left out)."""
        with _intact(self.settings):
            got = self.collection.get(where={DOC_ID: {"$in": doc_ids}}, include=["documents", "metadatas", "embeddings"])
        by_doc: dict[str, list[tuple[int, str, str, dict[str, Any], Any]]] = {}
        for i, d, m, v in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True):
            by_doc.setdefault(m[DOC_ID], []).append((int(m.get(POSITION, 0)), i, d or "", m, v))
        out = []
        for doc_id, rows in by_doc.items():
            rows.sort(key=lambda r: (r[0], r[1]))
            m = rows[0][3]
            out.append(ArticleDraft(
                doc_id=doc_id, title=m.get(TITLE, ""), summary=m.get(SUMMARY) or "", tags=decode_list(m.get(TAGS)),
                authors=decode_list(m.get(AUTHORS)), date=m.get(DATE, ""), source=m.get(SOURCE, ""),
                chunk_ids=[r[1] for r in rows], headings=[decode_list(r[3].get(HEADINGS)) for r in rows],
                texts=[r[2] for r in rows], vectors=[np.asarray(r[4], dtype=np.float32) for r in rows],
            ))
        return out

    def sync_keywords(self) -> None:
        """Bring the keyword index in step with the collection; the caller holds the write lock."""
        keywords.sync(self.settings.keywords_dir, self.drafts, self.count(),
                      lambda: list(dict.fromkeys(c.metadata.get(DOC_ID, "") for c in self.all_chunks())),
                      str(self.collection.id))

    @contextmanager
    def writing(self, changes: bool = True) -> Iterator[IndexStore]:
        """The write lock for a change to the library; on the way out (even after an error: part of
        the work may be stored) the keyword index takes in what changed."""
        with library_write(self.settings, changes):
            try:
                yield self
            finally:
                self.sync_keywords()

    def keyword_index(self) -> KeywordIndex:
        """The committed keyword index, for answering. One out of step (a writer died, or the index
        predates keyword segments) is brought in step first, unless a writer is at work: it will
        sync when it finishes, and the version stamp tells readers to reload."""
        root = self.settings.keywords_dir
        if not keywords.in_step(root, str(self.collection.id)):
            try:
                with self.writing():
                    pass
            except LibraryBusy:
                log.info("a writer is changing the library; answering from the keyword index as last committed")
        for _ in range(2):
            try:
                return KeywordIndex(root)
            except FileNotFoundError:  # a writer merged away a segment named by the manifest just read
                log.info("the keyword index changed while it was opened; opening it again")
        return KeywordIndex(root)

    def passages_by_id(self, chunk_ids: Sequence[str]) -> dict[str, Passage]:
        """These chunks as passages, read with one get (a chunk no longer stored is left out)."""
        if not chunk_ids:
            return {}
        with self._answering():
            got = self.collection.get(ids=list(chunk_ids), include=["metadatas", "documents"])
        return {p.chunk_id: p for p in self._passages(got)}

    def nearest_articles(self, embedding: list[float], n: int, where: dict[str, Any] | None = None) -> list[str]:
        """The articles of the n nearest chunks, nearest first (fewer when the collection holds
        fewer; Chroma caps n itself, and counting first costs as much as the query on a large
        index). Only ids are read: retrieval scores the candidates' passages itself."""
        if n <= 0:
            return []
        with self._answering():
            got = self.collection.query(query_embeddings=[embedding], n_results=n, where=where, include=["metadatas"])
        return [m[DOC_ID] for m in got["metadatas"][0] if m]
