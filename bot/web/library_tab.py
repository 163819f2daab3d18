"""The Library tab: the indexed articles with search and sort; for editors, adding files and URLs
with a progress bar and the ingestion summary, moving an article to the trash and restoring it.
Every change is checked against the visitor's role on the server and written to the audit log."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from bot.answer.pipeline import Engine
from bot.core.index import ArticleInfo
from bot.web.access import Access, NotAllowed
from bot.web.library import SORTS, UploadRejected, ingest, parse_urls, save_upload, search_articles
from ingest.indexer import DiskFull
from ingest.suffixes import SUPPORTED_SUFFIXES
from ingest.trash import Trash, TrashError

log = logging.getLogger(__name__)
COLUMNS = ["Title", "Authors", "Date", "Tags", "Chunks", "Id"]


def _table(articles: list[ArticleInfo]) -> pd.DataFrame:
    rows = [[a.title, ", ".join(a.authors), a.date, ", ".join(a.tags), a.chunks, a.doc_id] for a in articles]
    return pd.DataFrame(rows, columns=COLUMNS)


def _passages(n: int) -> str:
    return f"{n} passage" if n == 1 else f"{n} passages"


def _summary_html(lines: list[str], failed: list[dict[str, str]]) -> str:
    """The ingestion outcome; paths and errors come from files and pages, so all is escaped."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    if failed:
        items = "".join(f"<li><b>{html.escape(f['path'])}</b>: {html.escape(f['error'])}</li>" for f in failed)
        body += f"<p>Not added:</p><ul>{items}</ul>"
    return f'<div class="ingest-summary">{body}</div>'


class LibraryTab:
    def __init__(self, engine: Engine, access: Access) -> None:
        self.engine = engine
        self.access = access
        self.trash = Trash(engine.settings)

    def articles(self) -> list[ArticleInfo]:
        return self.engine.store.articles()

    def tag_choices(self) -> list[str]:
        return sorted({t for a in self.articles() for t in a.tags})

    def _views(self, query: str, sort: str) -> tuple[Any, ...]:
        """The table, its caption, the remove list, the chat's tag filter and the trash list, all
        from one listing."""
        articles = self.articles()
        shown = search_articles(articles, query or "", sort)
        caption = (f"{len(shown)} of {len(articles)} articles shown · "
                   f"{sum(a.chunks for a in articles)} passages indexed")
        removable = gr.update(choices=[(f"{a.title} ({a.doc_id})", a.doc_id) for a in articles], value=None)
        tags = gr.update(choices=sorted({t for a in articles for t in a.tags}))
        trashed = gr.update(choices=[(f"{t.title} ({t.doc_id}), removed {t.removed_at[:10]} by {t.removed_by}", t.doc_id)
                                     for t in self.trash.entries()], value=None)
        return _table(shown), caption, removable, tags, trashed

    def view(self, query: str, sort: str) -> tuple[Any, Any]:
        table, caption, *_ = self._views(query, sort)
        return table, caption

    def load(self, query: str, sort: str, request: gr.Request) -> tuple[Any, ...]:
        """On every page load: the listing (another user may have changed the library), and the
        editing controls only for an editor; a reader is told why they are not there."""
        self.engine.refresh_if_changed()
        editor = self.access.can_edit(request)
        notice = self.access.reader_notice(request)
        return (*self._views(query, sort), gr.update(visible=editor),
                gr.update(value=f'<p class="notice">{html.escape(notice)}</p>' if notice else "", visible=bool(notice)))

    def add(self, files: list[str] | None, urls_text: str, query: str, sort: str, request: gr.Request,
            progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, ...]:
        """Copy the uploads under the data dir, ingest them and the URLs, refresh the search index."""
        try:
            user = self.access.require_editor(request, "add articles")
            self.engine.refresh_if_changed()  # the command line may have changed the library meanwhile
        except NotAllowed as exc:
            return _summary_html([str(exc)], []), *([gr.skip()] * 7)
        lines: list[str] = []
        failed: list[dict[str, str]] = []
        saved: list[Path] = []
        progress(0, desc="Checking the files")
        for name in files or []:
            path = Path(name)
            try:
                saved.append(save_upload(path, path.name, self.engine.settings))
            except UploadRejected as exc:
                failed.append({"path": path.name, "error": str(exc)})
        try:
            urls = parse_urls(urls_text or "")
        except UploadRejected as exc:
            urls = []
            failed.append({"path": "URLs", "error": str(exc)})
        if not saved and not urls:
            lines.append("Nothing to add: choose files or paste URLs (one per line)." if not failed else "Nothing was added.")
        else:
            progress(0.05, desc=f"Reading {len(saved)} file(s) and {len(urls)} URL(s)")
            try:
                report = ingest(self.engine.settings, saved, urls, user)
            except DiskFull as exc:
                log.error("ingestion stopped: %s", exc)
                lines.append(f"Ingestion stopped: {exc}.")
            except Exception:  # keep the page usable; the log has the details
                log.exception("ingestion failed")
                lines.append("Ingestion failed; the details are in the server log. Check the files and try again.")
            else:
                self.engine.refresh()
                lines.append(report.summary())
                failed += report.failed
                log.info("library: %s by %s", report.summary(), user)
        table, caption, removable, tags, trashed = self._views(query, sort)
        return _summary_html(lines, failed), table, caption, removable, tags, trashed, None, ""

    def _edit(self, request: gr.Request, action: str, doc_id: str | None, unchosen: str,
              change: Callable[[str, str], str], query: str, sort: str) -> tuple[Any, ...]:
        """An editor's change to one article (`change(doc_id, user)` says what it did), then the new listing."""
        try:
            user = self.access.require_editor(request, action)
            self.engine.refresh_if_changed()  # the command line may have changed the library meanwhile
        except NotAllowed as exc:
            return _summary_html([str(exc)], []), *([gr.skip()] * 5)
        message = change(doc_id, user) if doc_id else unchosen
        return _summary_html([message], []), *self._views(query, sort)

    def remove(self, doc_id: str | None, query: str, sort: str, request: gr.Request) -> tuple[Any, ...]:
        """Move the chosen article to the trash (it can be restored below, or from the command line)."""
        def change(doc_id: str, user: str) -> str:
            moved = self.trash.remove(self.engine.store, doc_id, user)
            if moved is None:
                return f"{doc_id} is not in the library (already removed?)."
            self.engine.refresh()
            return (f"Moved {doc_id} ({_passages(moved.chunks)}) to the trash. Restore it from the trash list below "
                    "if that was a mistake.")

        return self._edit(request, "remove articles", doc_id,
                          "Choose an article to remove first (or click its row in the table).", change, query, sort)

    def restore(self, doc_id: str | None, query: str, sort: str, request: gr.Request) -> tuple[Any, ...]:
        """Put a trashed article back as it was, without reading or embedding it again."""
        def change(doc_id: str, user: str) -> str:
            try:
                restored = self.trash.restore(self.engine.store, doc_id, user)
            except TrashError as exc:
                return str(exc)
            self.engine.refresh()
            return f"Restored {doc_id} ({_passages(restored.chunks)}) to the library."

        return self._edit(request, "restore articles", doc_id, "Choose an article in the trash first.", change,
                          query, sort)

    @staticmethod
    def pick(table: pd.DataFrame, selected: gr.SelectData) -> Any:
        """Clicking a row chooses that article in the remove list."""
        row = selected.index[0] if isinstance(selected.index, list | tuple) else selected.index
        return table.iloc[row]["Id"] if 0 <= row < len(table) else gr.skip()

    def build(self, app: gr.Blocks, chat_tags: gr.Dropdown) -> None:
        """Lay out the tab; the listing is refreshed on every page load (another user may have
        changed the library), together with the chat's tag filter."""
        with gr.Row():
            query = gr.Textbox(label="Search titles, authors, tags", scale=3, elem_id="library-search")
            sort = gr.Dropdown(list(SORTS), value="Title (A–Z)", label="Sort by", scale=1, elem_id="library-sort")
        caption = gr.Markdown(elem_id="library-caption")
        table = gr.Dataframe(headers=COLUMNS, datatype=["str", "str", "str", "str", "number", "str"],
                             column_widths=["34%", "16%", "10%", "18%", "7%", "15%"], interactive=False, wrap=True,
                             max_height=420, elem_id="library-table")
        reader_note = gr.HTML(visible=False, elem_id="library-reader-note")
        with gr.Row(visible=False) as editing:
            with gr.Column():
                files = gr.File(label=f"Add files ({', '.join(sorted(SUPPORTED_SUFFIXES))}; up to "
                                      f"{self.engine.settings.max_upload_mb} MiB each)",
                                file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES), type="filepath",
                                elem_id="library-upload")
                urls = gr.Textbox(label="…or paste URLs, one per line", lines=3, elem_id="library-urls")
                add = gr.Button("Add to the library", variant="primary", elem_id="library-add")
            with gr.Column():
                removable = gr.Dropdown([], label="Remove an article (it goes to the trash)",
                                        elem_id="library-remove-choice")
                remove = gr.Button("Remove from the library", variant="stop", elem_id="library-remove")
                trashed = gr.Dropdown([], label="Trash", elem_id="library-trash-choice")
                restore = gr.Button("Restore from the trash", elem_id="library-restore")
                summary = gr.HTML(elem_id="library-summary")

        writes = {"concurrency_limit": 1, "concurrency_id": "library-writes", "api_visibility": "private"}
        listing = [table, caption, removable, chat_tags, trashed]
        for trigger in (query.change, sort.change):
            trigger(self.view, [query, sort], [table, caption], api_visibility="private")
        add.click(self.add, [files, urls, query, sort], [summary, *listing, files, urls], **writes)
        remove.click(self.remove, [removable, query, sort], [summary, *listing], **writes)
        restore.click(self.restore, [trashed, query, sort], [summary, *listing], **writes)
        table.select(self.pick, table, removable, api_visibility="private")
        app.load(self.load, [query, sort], [*listing, editing, reader_note], api_visibility="private")
