"""Backups of a whole data dir, taken and restored while the app runs.

A backup is a logical copy, not a copy of Chroma's files: every stored chunk (id, text,
metadata) in `chunks.jsonl`, its vector in `vectors.npy`, and the data dir's own files (uploads,
trash, feedback, evaluation runs, the audit log) under `files/`. It is read under the data dir's
write lock, so an ingestion running meanwhile is in it entirely or not at all, and it works the
same for the embedded store and a `chroma run` server. It is written beside its target and
renamed into place at the end: an interrupted backup leaves no half-backup under that name.

A restore first backs up the state it replaces (under `<data_dir>/backups/`), then writes every
backed-up chunk and deletes the chunks the backup lacks, in that order: a restore killed half
way leaves extra chunks, never missing ones, and running it again finishes it. The audit log is
never replaced, only appended to.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bot.core.audit import AuditLog, timestamp
from bot.core.index import PAGE, IndexDamaged, IndexStore, Records, set_aside_damaged
from bot.core.settings import Settings
from bot.core.writes import library_write

FORMAT = 1
MANIFEST = "backup.json"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.npy"
FILES = "files"


class BackupError(ValueError):
    """A backup that cannot be written or restored; the message says what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    chunks: int
    articles: int
    created: str


def _data_files(settings: Settings) -> dict[str, Path]:
    """The data dir's own files a backup carries, by their name inside `files/`."""
    return {"uploads": settings.uploads_dir, "trash": settings.trash_dir, "evals": settings.evals_dir,
            "feedback.jsonl": settings.feedback_file, "audit.jsonl": settings.audit_file}


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target)
    elif source.is_file():
        shutil.copy2(source, target)


def backup(settings: Settings, target: Path, user: str, progress: bool = True) -> BackupInfo:
    """Write a consistent backup of the data dir to `target` (which must not exist yet, or be empty)."""
    target = target.resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} already exists and is not empty: choose a new folder for the backup")
    if settings.data_dir.resolve() in (target, *target.parents) and settings.backups_dir.resolve() not in target.parents:
        raise BackupError(f"{target} is inside the data dir {settings.data_dir}: put backups somewhere else")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with library_write(settings, changes=False):
        store = IndexStore(settings, create=True)
        total = store.count()
        vectors: np.ndarray | None = None
        doc_ids: set[str] = set()
        row = 0
        with open(partial / CHUNKS, "w", encoding="utf-8") as out, \
                tqdm(total=total, desc="backing up", unit="chunk", disable=not progress) as bar:
            for page in store.all_records():
                if vectors is None:
                    vectors = np.lib.format.open_memmap(partial / VECTORS, mode="w+", dtype=np.float32,
                                                        shape=(total, page.vectors.shape[1]))
                for i, chunk_id in enumerate(page.ids):
                    out.write(json.dumps({"id": chunk_id, "document": page.documents[i],
                                          "metadata": page.metadatas[i]}, ensure_ascii=False) + "\n")
                    doc_ids.add(page.metadatas[i].get("doc_id", ""))
                vectors[row:row + len(page.ids)] = page.vectors
                row += len(page.ids)
                bar.update(len(page.ids))
        if row != total:
            raise BackupError(f"the index changed while it was read ({total} chunks counted, {row} read): "
                              "is another program writing to it without the data dir's lock? Try again")
        if vectors is not None:
            vectors.flush()
            del vectors
        (partial / FILES).mkdir()
        for name, source in _data_files(settings).items():
            _copy(source, partial / FILES / name)
        created = timestamp()
        manifest = {"format": FORMAT, "created": created, "by": user, "collection": settings.collection,
                    "embedding_model": settings.embedding_model, "chunks": total, "articles": len(doc_ids)}
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if target.exists():
            target.rmdir()
        partial.rename(target)
        AuditLog(settings.audit_file).append(user, "backup", path=str(target), chunks=total, articles=len(doc_ids))
    return BackupInfo(target, total, len(doc_ids), created)


def _manifest(source: Path, settings: Settings) -> dict[str, Any]:
    """The backup's manifest, checked against its files and the settings before anything is touched."""
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} is not an AlignChat backup (no {MANIFEST}); give the folder "
                          "`python -m ingest --backup` wrote")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of format {manifest.get('format')}; this version reads format {FORMAT}")
    if manifest["embedding_model"] != settings.embedding_model:
        raise BackupError(f"the backup's vectors come from embedding model {manifest['embedding_model']!r}, but "
                          f"ALIGNCHAT_EMBEDDING_MODEL is {settings.embedding_model!r}: set it to the backup's")
    if manifest["chunks"]:
        vectors = np.load(source / VECTORS, mmap_mode="r")
        if vectors.shape[0] != manifest["chunks"]:
            raise BackupError(f"{source} is damaged: {vectors.shape[0]} vectors for {manifest['chunks']} chunks")
    return manifest


def _chunk_pages(source: Path, total: int) -> Any:
    """The backed-up chunks as Records, a page at a time."""
    vectors = np.load(source / VECTORS, mmap_mode="r") if total else np.zeros((0, 0), dtype=np.float32)
    page: list[dict[str, Any]] = []
    row = 0
    with open(source / CHUNKS, encoding="utf-8") as lines:
        for line in lines:
            page.append(json.loads(line))
            if len(page) == PAGE:
                yield Records([c["id"] for c in page], [c["document"] for c in page], [c["metadata"] for c in page],
                              np.asarray(vectors[row:row + len(page)]))
                row += len(page)
                page = []
    if page:
        yield Records([c["id"] for c in page], [c["document"] for c in page], [c["metadata"] for c in page],
                      np.asarray(vectors[row:row + len(page)]))
        row += len(page)
    if row != total:
        raise BackupError(f"{source} is damaged: {row} chunks listed for {total} in its manifest")


def restore(settings: Settings, source: Path, user: str, progress: bool = True) -> tuple[BackupInfo, BackupInfo | None]:
    """Make the library what the backup holds; returns the backup and the safety backup of the
    replaced state (None when the library was empty)."""
    source = source.resolve()
    manifest = _manifest(source, settings)
    with library_write(settings):
        try:
            store = IndexStore(settings, create=True)
        except IndexDamaged:  # what a backup is for: the damaged files are kept aside, nothing to save from them
            set_aside_damaged(settings)
            store = IndexStore(settings, create=True)
        with store.writing():
            safety = None
            if store.count():
                stamp = time.strftime("%Y%m%d-%H%M%S")
                safety = backup(settings, settings.backups_dir / f"before-restore-{stamp}", user, progress)
            before = {c.chunk_id for c in store.all_chunks()}
            kept: set[str] = set()
            with tqdm(total=manifest["chunks"], desc="restoring", unit="chunk", disable=not progress) as bar:
                for page in _chunk_pages(source, manifest["chunks"]):
                    store.put(page)
                    kept.update(page.ids)
                    bar.update(len(page.ids))
            store.delete(sorted(before - kept))
            for name, target in _data_files(settings).items():
                if name == "audit.jsonl":
                    continue  # the record of what happened stays whole, the restore included
                backed_up = source / FILES / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.is_file():
                    target.unlink()
                _copy(backed_up, target)
            AuditLog(settings.audit_file).append(user, "restore-backup", path=str(source), chunks=manifest["chunks"],
                                                 articles=manifest["articles"],
                                                 replaced_state_saved_in=str(safety.path) if safety else None)
    return BackupInfo(source, manifest["chunks"], manifest["articles"], manifest["created"]), safety
