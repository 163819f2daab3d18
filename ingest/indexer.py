"""Incremental, crash-safe indexing.

The index itself is the record of what is indexed: every chunk carries its article's doc_id,
content hash, source and location, and chunk ids are derived from their text. A re-run
compares what each article should have with what is stored, embeds only chunks that are new,
writes an article's new chunks in one call before deleting its stale ones, and moves articles
that left a re-ingested source to the trash. A run killed at any point leaves state that the next run
repairs: stale chunks carry the old content hash, so a half-updated article never looks done.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.core import index as schema
from bot.core.audit import cli_user
from bot.core.index import IndexStore
from bot.core.models import embedding_model_path, load_embeddings, query_model
from bot.core.settings import Settings
from bot.core.types import Article, Chunk
from bot.core.writes import library_write
from ingest.chunking import Chunker, load_tokenizer
from ingest.markdown import LoadError
from ingest.sources import Source, discover, load
from ingest.trash import Trash

log = logging.getLogger(__name__)
EMBED_BATCH = 4096  # chunks embedded before their articles are written (bounds work lost to a crash)
ENCODE_SLICE = 128  # texts per encoder call: the progress bar moves at this step


class DiskFull(OSError):
    """Ingestion stopped because the data dir's disk filled up; the message says what to do."""


def _disk_full(settings: Settings) -> str:
    """'' when the data dir's disk has room; else how little is left. Chroma reports a full disk
    as a failure to apply its logs, so the disk itself is asked."""
    usage = shutil.disk_usage(settings.data_dir)
    if usage.free >= max(16 * 2**20, usage.total // 100):
        return ""
    return f"{usage.free / 2**20:.1f} MiB free of {usage.total / 2**20:,.0f} MiB"


@dataclass
class Report:
    documents_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks_total: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.documents_seen} documents: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deleted} moved to the trash, {len(self.failed)} failed; "
            f"{self.chunks_embedded} chunks embedded, {self.chunks_total} in the index "
            f"({self.seconds:.1f} s)"
        )


@dataclass
class _Work:
    article: Article
    location: str
    chunks: list[Chunk]  # all of the article's chunks, in order
    new: list[Chunk]  # those not in the index yet: the only ones to embed
    stale: list[str]  # stored chunk ids the article no longer has
    is_new: bool


class Indexer:
    """Runs hold the data dir's write lock and are written to the audit log as `user`'s;
    articles pruned from a source go to the trash, so nothing indexed is lost to a bad re-run."""

    def __init__(self, settings: Settings, progress: bool = True, user: str | None = None) -> None:
        self.settings = settings
        self.progress = progress
        self.user = user or cli_user()
        self.trash = Trash(settings)
        self.store = IndexStore(settings, create=True)
        tokenizer = load_tokenizer(embedding_model_path(settings.embedding_model))
        self.chunker = Chunker(tokenizer, settings.chunk_tokens, settings.chunk_overlap)
        # Stored with each chunk: a change of chunking settings re-chunks every article.
        self._signature = f"{settings.chunk_tokens}/{settings.chunk_overlap}"

    @property
    def embeddings(self):
        """Loaded on first use only: a run with nothing new to embed never pays for the model."""
        return load_embeddings(self.settings.embedding_model, self.settings.device)

    def rebuild(self) -> None:
        """Start over: drop the collection (a user asked for it with --rebuild)."""
        with library_write(self.settings):
            chunks = self.store.count()
            self.store.drop()
            self.store = IndexStore(self.settings, create=True)
            self.trash.audit.append(self.user, "rebuild", chunks_dropped=chunks)

    def run(self, paths: Sequence[Path] = (), sources: Sequence[Source] = (), prune: bool = True,
            fetch: Callable[[str], Article] | None = None, limit: int | None = None,
            ard_sources: frozenset[str] = frozenset()) -> Report:
        """Ingest the paths and sources; `limit` (articles per source) and `ard_sources` (the ARD
        `source` values to keep) take part of large sources, and then nothing is pruned from them."""
        with self.store.writing():
            try:
                report = self._run(paths, sources, prune, fetch, limit, ard_sources)
            except Exception as exc:
                full = _disk_full(self.settings)
                if full:
                    raise DiskFull(f"the disk holding {self.settings.data_dir} is full ({full}): free some space and "
                                   "run the same ingestion again; what was stored is kept, and the re-run goes on "
                                   "from there without embedding it again") from exc
                raise
            if report.chunks_embedded:
                # The answering side's copy of the embedding model, made now while the model is loaded.
                query_model(self.settings.embedding_model, self.settings.device)
            if report.added or report.updated or report.deleted:
                self.trash.audit.append(self.user, "ingest", inputs=[str(p) for p in paths] + [s.key for s in sources],
                                        added=report.added, updated=report.updated, deleted=report.deleted,
                                        chunks_total=report.chunks_total)
        return report

    def _run(self, paths: Sequence[Path], sources: Sequence[Source], prune: bool,
             fetch: Callable[[str], Article] | None, limit: int | None, ard_sources: frozenset[str]) -> Report:
        started = time.perf_counter()
        report = Report()
        stored: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for chunk in self.store.all_chunks():
            stored[chunk.metadata.get(schema.DOC_ID, "")][chunk.chunk_id] = chunk.metadata
        todo = list(sources)
        for path in paths:
            try:
                todo.append(discover(path))
            except LoadError as exc:
                report.failed.append({"path": str(path), "error": str(exc)})
        for source in todo:
            self._run_source(replace(source, limit=limit, ard_sources=ard_sources), stored, report, prune, fetch)
        report.chunks_total = self.store.count()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _run_source(self, source: Source, stored: dict[str, dict[str, dict[str, Any]]], report: Report,
                    prune: bool, fetch: Callable[[str], Article] | None) -> None:
        seen: set[str] = set()
        failed_locations: set[str] = set()
        work: list[_Work] = []
        pending = 0
        bar = tqdm(desc="embedding", unit="chunk", disable=not self.progress)
        # Written as it is read, a batch at a time: memory stays flat however large the source.
        for loaded in load(source, fetch, progress=self.progress):
            if loaded.article is None:
                log.warning("skipped %s: %s", loaded.location, loaded.error)
                report.failed.append({"path": loaded.location, "error": loaded.error})
                failed_locations.add(loaded.location)
                continue
            article = loaded.article
            report.documents_seen += 1
            if article.doc_id in seen:
                log.info("%s holds %s again; indexed once", loaded.location, article.doc_id)
                continue
            seen.add(article.doc_id)
            try:
                item = self._plan(article, loaded.location, stored.get(article.doc_id, {}), source.key)
            except LoadError as exc:
                report.failed.append({"path": loaded.location, "error": str(exc)})
                failed_locations.add(loaded.location)
                continue
            if item is None:
                report.unchanged += 1
                continue
            work.append(item)
            pending += len(item.new)
            if pending >= EMBED_BATCH:
                self._write_batch(work, source.key, report, bar)
                work, pending = [], 0
        self._write_batch(work, source.key, report, bar)
        bar.close()
        if not prune:
            return
        if source.partial:
            log.info("only part of %s was read (--limit or --ard-source): nothing is pruned from it", source.key)
            return
        # Articles that came from this source and are gone from it. An article whose file
        # failed to load this time is kept: a bad edit must not lose what was indexed.
        for doc_id, chunks in list(stored.items()):
            metas = list(chunks.values())
            if doc_id in seen or not any(m.get(schema.ROOT) == source.key for m in metas):
                continue
            if any(m.get(schema.LOCATION) in failed_locations for m in metas):
                continue
            self.trash.remove(self.store, doc_id, self.user)
            del stored[doc_id]
            report.deleted += 1
            log.info("moved %s to the trash (no longer in %s)", doc_id, source.key)

    def _stamp(self, article: Article) -> str:
        return f"{article.content_hash}/{self._signature}"

    def _plan(self, article: Article, location: str, current: dict[str, dict[str, Any]], root: str) -> _Work | None:
        stamp = self._stamp(article)
        if current and all(m.get(schema.CONTENT_HASH) == stamp and m.get(schema.ROOT) == root
                           and m.get(schema.LOCATION) == location for m in current.values()):
            return None  # same text, metadata and chunking: nothing to do, not even chunking
        chunks = self.chunker.chunks(article)
        if not chunks:
            raise LoadError(f"{location}: no text to index")
        wanted = {c.chunk_id for c in chunks}
        return _Work(
            article=article,
            location=location,
            chunks=chunks,
            new=[c for c in chunks if c.chunk_id not in current],
            stale=[cid for cid in current if cid not in wanted],
            is_new=not current,
        )

    def _metadata(self, item: _Work, chunk: Chunk, root: str) -> dict[str, Any]:
        article = item.article
        return {
            schema.DOC_ID: article.doc_id,
            schema.TITLE: article.title,
            schema.AUTHORS: schema.encode_list(article.authors),
            schema.URL: article.url,
            schema.DATE: article.date,
            schema.SOURCE: article.source,
            schema.TAGS: schema.encode_list(article.tags),
            schema.SUMMARY: article.summary,
            schema.REFERENCES: schema.encode_references(article.references),
            schema.RELATED: schema.encode_list(article.related),
            schema.HEADINGS: schema.encode_list(chunk.headings),
            schema.POSITION: chunk.position,
            schema.CONTENT_HASH: self._stamp(article),
            schema.ROOT: root,
            schema.LOCATION: item.location,
        }

    def _embed(self, texts: list[str], bar: tqdm) -> list[list[float]]:
        """Embed in slices of similar length (sorted like the encoder sorts internally, so
        little padding is wasted), moving the progress bar as each slice is done."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), ENCODE_SLICE):
            picked = order[start:start + ENCODE_SLICE]
            for i, vector in zip(picked, self.embeddings.embed_documents([texts[i] for i in picked]), strict=True):
                vectors[i] = vector
            bar.update(len(picked))
        return vectors

    def _write_batch(self, batch: list[_Work], root: str, report: Report, bar: tqdm) -> None:
        texts = [c.embedded_text(w.article.title) for w in batch for c in w.new]
        vectors = self._embed(texts, bar)
        new = [(item, c) for item in batch for c in item.new]
        new_ids = {c.chunk_id for _, c in new}
        kept = [(item, c) for item in batch for c in item.chunks if c.chunk_id not in new_ids]
        # The batch's new chunks first, in one call; then metadata of kept ones; stale ones last,
        # so a crash in between leaves extra chunks the next run removes, never missing ones.
        self.store.upsert(ids=[c.chunk_id for _, c in new], embeddings=vectors, documents=[c.text for _, c in new],
                          metadatas=[self._metadata(item, c, root) for item, c in new])
        self.store.update_metadata([c.chunk_id for _, c in kept], [self._metadata(item, c, root) for item, c in kept])
        self.store.delete([cid for item in batch for cid in item.stale])
        for item in batch:
            report.chunks_embedded += len(item.new)
            if item.is_new:
                report.added += 1
            else:
                report.updated += 1
