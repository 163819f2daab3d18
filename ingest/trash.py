"""Removing an article moves it to the trash: its stored chunks, texts, metadata and vectors are
written to `<data_dir>/trash/` before they leave the index, so a restore puts back exactly what
was there (no re-reading, no re-embedding), even for an uploaded file or web page that is gone.

Every move, restore and purge holds the data dir's write lock and is written to the audit log.
A crash between writing the trash file and deleting the chunks leaves the article in both
places; restoring it then changes nothing, and removing it again replaces the trash entry.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.core import index as schema
from bot.core.audit import AuditLog, timestamp
from bot.core.index import IndexStore, Records
from bot.core.settings import Settings
from bot.core.writes import library_write


class TrashError(ValueError):
    """A trash operation that cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class Trashed:
    doc_id: str
    title: str
    chunks: int
    removed_at: str
    removed_by: str
    path: Path


def _file_name(doc_id: str) -> str:
    """One trash file per article id; ids may hold slashes and other characters unfit for a name."""
    return doc_id.encode("utf-8").hex() + ".json"


def _trashed(data: dict, path: Path) -> Trashed:
    return Trashed(data["doc_id"], data["title"], len(data["ids"]), data["removed_at"], data["removed_by"], path)


class Trash:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.trash_dir
        self.audit = AuditLog(settings.audit_file)

    def entries(self) -> list[Trashed]:
        """What the trash holds, most recently removed first."""
        found = []
        for path in self.dir.glob("*.json") if self.dir.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # a torn write from a crash: the article is still in the index
            found.append(_trashed(data, path))
        return sorted(found, key=lambda t: t.removed_at, reverse=True)

    def remove(self, store: IndexStore, doc_id: str, user: str) -> Trashed | None:
        """Move an article from the index to the trash (None: the index has no such article)."""
        with store.writing():
            records = store.records_of(doc_id)
            if not records.ids:
                return None
            title = records.metadatas[0].get(schema.TITLE, "")
            entry = {"doc_id": doc_id, "title": title, "removed_at": timestamp(),
                     "removed_by": user, "ids": records.ids, "documents": records.documents,
                     "metadatas": records.metadatas, "vectors": records.vectors.tolist()}
            self.dir.mkdir(parents=True, exist_ok=True)
            path = self.dir / _file_name(doc_id)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(entry, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
            store.delete(records.ids)
            self.audit.append(user, "remove", doc_id=doc_id, title=title, chunks=len(records.ids))
            return _trashed(entry, path)

    def _load(self, doc_id: str) -> tuple[dict, Path]:
        """A trash entry's contents and file."""
        path = self.dir / _file_name(doc_id)
        if not path.is_file():
            held = ", ".join(t.doc_id for t in self.entries()) or "nothing"
            raise TrashError(f"{doc_id!r} is not in the trash (it holds {held}); `python -m ingest --trash` lists it")
        return json.loads(path.read_text(encoding="utf-8")), path

    def restore(self, store: IndexStore, doc_id: str, user: str) -> Trashed:
        """Put a trashed article back in the index as it was when removed."""
        with store.writing():
            data, path = self._load(doc_id)
            current = store.records_of(doc_id).ids
            if current and set(current) != set(data["ids"]):
                raise TrashError(f"{doc_id!r} is in the library again (added since it was removed): remove it "
                                 "first to restore the old version, or purge the trash entry to keep the new one")
            dim = len(data["vectors"][0]) if data["vectors"] else 0
            store.put(Records(data["ids"], data["documents"], data["metadatas"],
                              np.asarray(data["vectors"], dtype=np.float32).reshape(len(data["ids"]), dim)))
            path.unlink()
            self.audit.append(user, "restore", doc_id=doc_id, title=data["title"], chunks=len(data["ids"]))
            return _trashed(data, path)

    def purge(self, doc_id: str, user: str) -> Trashed:
        """Delete a trash entry for good (an editor's explicit choice)."""
        with library_write(self.settings, changes=False):
            data, path = self._load(doc_id)
            path.unlink()
            self.audit.append(user, "purge", doc_id=doc_id, title=data["title"], chunks=len(data["ids"]))
            return _trashed(data, path)
