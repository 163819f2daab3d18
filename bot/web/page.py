"""The AlignChat web app: Chat, Library and Evaluation tabs, and the `/ask` API endpoint.

The page renders the answer pipeline's events (bot.answer.pipeline) and holds no retrieval or prompt
logic. Each browser session has its own conversation (gr.State); answers stream on worker
threads, so one user's long answer does not hold up another user's page.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from bot.answer.pipeline import Conversation, Engine, answer
from bot.core.events import Cited, Failed
from bot.web.backends import status_html
from bot.web.chat_tab import ChatTab
from bot.web.eval_tab import EvalTab
from bot.web.library_tab import LibraryTab
from bot.web.render import answer_html, notice_html

log = logging.getLogger(__name__)

CSS = """
.backend-status { font-size: 0.9em; opacity: 0.85; }
#chat details.sources { margin-top: 0.6em; }
#chat details.sources blockquote { margin: 0.3em 0 0.6em 0; padding-left: 0.7em; border-left: 3px solid #bbb; font-size: 0.92em; }
#chat .notice { color: #b45309; }
"""
CACHE_CLEANUP = (3600, 6 * 3600)  # hourly, Gradio drops its cached uploads and downloads older than 6 h


def build_app(engine: Engine) -> gr.Blocks:
    """The page and its API around one shared Engine; per-user state lives in each session."""
    # Exports live in Gradio's temp folder, which app.py puts under the data dir.
    chat = ChatTab(engine, Path(get_upload_folder()) / "exports")
    library = LibraryTab(engine)
    evaluation = EvalTab(engine, chat.backends)

    def ask(question: str) -> str:
        """Answer one question in a new conversation, as HTML: the answer with linked [n] markers and its Sources block."""
        try:
            for event in answer(question, engine, Conversation()):
                if isinstance(event, Failed):
                    return notice_html(event.message)
                if isinstance(event, Cited):
                    return answer_html(event)
        except Exception:
            log.exception("answer failed")
        return notice_html("Something went wrong while answering; the details are in the server log.")

    backend = chat.backends.default
    with gr.Blocks(title="AlignChat", delete_cache=CACHE_CLEANUP) as app:
        gr.HTML("<h2>AlignChat</h2><p>Questions about AI alignment, answered from a library of articles; "
                "every claim links to the passage it rests on.</p>")
        status = gr.HTML(status_html(backend, chat.backends.model_for(backend)), elem_id="backend-status")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"):
                controls = chat.build(status, library.tag_choices())
            with gr.Tab("Library", id="library-tab"):
                library.build(app, controls.tags)
            with gr.Tab("Evaluation", id="eval-tab"):
                evaluation.build(controls.settings_inputs)
        gr.api(ask, api_name="ask", concurrency_limit=4, concurrency_id="api-ask")
    return app


def launch_options(engine: Engine, host: str, port: int) -> dict[str, Any]:
    """Server options: login when ALIGNCHAT_AUTH is set, the upload limit, and only the data
    dir's evaluation runs servable besides Gradio's own (data-dir) temp folder."""
    settings = engine.settings
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    return {
        "server_name": host,
        "server_port": port,
        "auth": auth,
        "auth_message": "AlignChat: log in with the user and password set in ALIGNCHAT_AUTH." if auth else None,
        "max_file_size": settings.max_upload_mb * 1024 * 1024,
        "allowed_paths": [str(settings.evals_dir.resolve())],
        "show_error": False,
        "ssr_mode": False,
        "run_history": False,
        "footer_links": ["api", "settings"],
        "css": CSS,
    }

