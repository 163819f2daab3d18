"""The Library tab: the indexed articles with search and sort, adding files and URLs with a
progress bar and the ingestion summary, and removing an article."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from bot.answer.pipeline import Engine
from bot.core.index import ArticleInfo
from bot.web.library import SORTS, UploadRejected, ingest, parse_urls, save_upload, search_articles
from ingest.suffixes import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)
COLUMNS = ["Title", "Authors", "Date", "Tags", "Chunks", "Id"]


def _table(articles: list[ArticleInfo]) -> pd.DataFrame:
    rows = [[a.title, ", ".join(a.authors), a.date, ", ".join(a.tags), a.chunks, a.doc_id] for a in articles]
    return pd.DataFrame(rows, columns=COLUMNS)


def _summary_html(lines: list[str], failed: list[dict[str, str]]) -> str:
    """The ingestion outcome; paths and errors come from files and pages, so all is escaped."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    if failed:
        items = "".join(f"<li><b>{html.escape(f['path'])}</b>: {html.escape(f['error'])}</li>" for f in failed)
        body += f"<p>Not added:</p><ul>{items}</ul>"
    return f'<div class="ingest-summary">{body}</div>'


class LibraryTab:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def articles(self) -> list[ArticleInfo]:
        return self.engine.store.articles()

    def tag_choices(self) -> list[str]:
        return sorted({t for a in self.articles() for t in a.tags})

    def _views(self, query: str, sort: str) -> tuple[Any, Any, Any, Any]:
        """The table, its caption, the remove list and the chat's tag filter, all from one listing."""
        articles = self.articles()
        shown = search_articles(articles, query or "", sort)
        caption = (f"{len(shown)} of {len(articles)} articles shown · "
                   f"{sum(a.chunks for a in articles)} passages indexed")
        removable = gr.update(choices=[(f"{a.title} ({a.doc_id})", a.doc_id) for a in articles], value=None)
        tags = gr.update(choices=sorted({t for a in articles for t in a.tags}))
        return _table(shown), caption, removable, tags

    def view(self, query: str, sort: str) -> tuple[Any, Any]:
        table, caption, _, _ = self._views(query, sort)
        return table, caption

    def add(self, files: list[str] | None, urls_text: str, query: str, sort: str,
            progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, ...]:
        """Copy the uploads under the data dir, ingest them and the URLs, refresh the search index."""
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
                report = ingest(self.engine.settings, saved, urls)
            except Exception:  # keep the page usable; the log has the details
                log.exception("ingestion failed")
                lines.append("Ingestion failed; the details are in the server log. Check the files and try again.")
            else:
                self.engine.refresh()
                lines.append(report.summary())
                failed += report.failed
                log.info("library: %s", report.summary())
        table, caption, removable, tags = self._views(query, sort)
        return _summary_html(lines, failed), table, caption, removable, tags, None, ""

    def remove(self, doc_id: str | None, query: str, sort: str) -> tuple[Any, ...]:
        if not doc_id:
            message = "Choose an article to remove first (or click its row in the table)."
        else:
            removed = self.engine.store.delete_article(doc_id)
            if removed:
                self.engine.refresh()
                message = f"Removed {doc_id} ({removed} passages). Add it again by uploading it."
            else:
                message = f"{doc_id} is not in the library (already removed?)."
        table, caption, removable, tags = self._views(query, sort)
        return _summary_html([message], []), table, caption, removable, tags

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
        with gr.Row():
            with gr.Column():
                files = gr.File(label=f"Add files ({', '.join(sorted(SUPPORTED_SUFFIXES))}; up to "
                                      f"{self.engine.settings.max_upload_mb} MiB each)",
                                file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES), type="filepath",
                                elem_id="library-upload")
                urls = gr.Textbox(label="…or paste URLs, one per line", lines=3, elem_id="library-urls")
                add = gr.Button("Add to the library", variant="primary", elem_id="library-add")
            with gr.Column():
                removable = gr.Dropdown([], label="Remove an article", elem_id="library-remove-choice")
                remove = gr.Button("Remove from the library", variant="stop", elem_id="library-remove")
                summary = gr.HTML(elem_id="library-summary")

        for trigger in (query.change, sort.change):
            trigger(self.view, [query, sort], [table, caption], api_visibility="private")
        add.click(self.add, [files, urls, query, sort], [summary, table, caption, removable, chat_tags, files, urls],
                  concurrency_limit=1, concurrency_id="library-writes", api_visibility="private")
        remove.click(self.remove, [removable, query, sort], [summary, table, caption, removable, chat_tags],
                     concurrency_limit=1, concurrency_id="library-writes", api_visibility="private")
        table.select(self.pick, table, removable, api_visibility="private")
        app.load(self._views, [query, sort], [table, caption, removable, chat_tags], api_visibility="private")
