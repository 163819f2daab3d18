"""The AlignChat web app: Chat, Library and Evaluation tabs, the `/ask` API endpoint, and each
article's own page (`/article/{doc_id}`), where a citation opens at the passage it quotes.

The page renders the answer pipeline's events (bot.answer.pipeline) and holds no retrieval or prompt
logic. Each browser session has its own conversation (gr.State); answers stream on worker
threads, so one user's long answer does not hold up another user's page.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.answer.pipeline import Conversation, Engine, answer
from bot.core.events import Cited, Failed
from bot.core.index import IndexUnavailable
from bot.web.access import Access
from bot.web.article_page import CSP, article_html, login_html, missing_html, unavailable_html
from bot.web.backends import status_html
from bot.web.chat_tab import ChatTab
from bot.web.eval_tab import EvalTab
from bot.web.library_tab import LibraryTab
from bot.web.loading import LoadingEngine
from bot.web.render import ARTICLE_ROUTE, answer_html, notice_html

log = logging.getLogger(__name__)

CSS = """
.backend-status { font-size: 0.9em; opacity: 0.85; }
#chat details.sources { margin-top: 0.6em; }
#chat details.sources blockquote { margin: 0.3em 0 0.6em 0; padding-left: 0.7em; border-left: 3px solid #bbb; font-size: 0.92em; }
#chat .notice { color: #b45309; }
"""
CACHE_CLEANUP = (3600, 6 * 3600)  # hourly, Gradio drops its cached uploads and downloads older than 6 h


def build_app(engine: Engine | LoadingEngine, access: Access) -> gr.Blocks:
    """The page and its API around one shared Engine; per-user state lives in each session, and
    what a visitor may change is decided by `access` in each handler."""
    # Exports live in Gradio's temp folder, which app.py puts under the data dir.
    chat = ChatTab(engine, Path(get_upload_folder()) / "exports")
    library = LibraryTab(engine, access)
    evaluation = EvalTab(engine, chat.backends, access)

    def ask(question: str) -> str:
        """Answer one question in a new conversation, as HTML: the answer with linked [n] markers and its Sources block."""
        try:
            engine.refresh_if_changed()
            for event in answer(question, engine.wait(), Conversation()):
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
                evaluation.build(app, controls.settings_inputs)
        gr.api(ask, api_name="ask", concurrency_limit=4, concurrency_id="api-ask")
    return app


async def _logged_in(request: Request) -> bool:
    """Whether Gradio's login lets this request in, by the check its own `/gradio_api/user` route
    makes (gradio.routes.App.create_app): the session cookie's token among the tokens of those
    logged in. Gradio exposes no dependency for it; anything missing refuses the visitor."""
    app = request.app
    auth, dependency = getattr(app, "auth", None), getattr(app, "auth_dependency", None)
    if auth is None and dependency is None:
        return True
    if dependency is not None:
        user = dependency(request)
        return (await user if inspect.isawaitable(user) else user) is not None
    cookie_id, tokens = getattr(app, "cookie_id", None), getattr(app, "tokens", None)
    if cookie_id is None or tokens is None:
        log.error("this Gradio keeps its logins elsewhere: article pages refuse every visitor")
        return False
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(f"access-token-unsecure-{cookie_id}")
    return tokens.get(token) is not None


def article_routes(engine: Engine | LoadingEngine) -> list[Route]:
    """The article page, served by the app itself: logged-in visitors only (when a login is set),
    read with one filtered get of the index (the engine's current one: the Library tab changes it)."""

    async def article(request: Request) -> HTMLResponse:
        chat_url = request.scope.get("root_path", "") + "/"
        headers = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}
        if not await _logged_in(request):
            return HTMLResponse(login_html(chat_url), status_code=401, headers=headers)
        doc_id = request.path_params["doc_id"]
        try:
            found = await run_in_threadpool(engine.store.article, doc_id)
            related = await run_in_threadpool(engine.store.titles, found.related) if found else {}
        except IndexUnavailable as exc:
            return HTMLResponse(unavailable_html(str(exc), chat_url), status_code=503, headers=headers)
        if found is None:
            return HTMLResponse(missing_html(doc_id, chat_url), status_code=404, headers=headers)
        return HTMLResponse(article_html(found, request.query_params.get("quote", ""), chat_url, related), headers=headers)

    return [Route(ARTICLE_ROUTE + "/{doc_id:path}", article, methods=["GET"])]


def launch_options(engine: Engine | LoadingEngine, host: str, port: int) -> dict[str, Any]:
    """Server options: login when ALIGNCHAT_AUTH is set (any of its users), the upload limit, only the data dir's
    evaluation runs servable besides Gradio's own (data-dir) temp folder, and the article pages
    (routes of the FastAPI app Gradio creates at launch, ahead of its own)."""
    settings = engine.settings
    auth = settings.logins or None
    return {
        "server_name": host,
        "server_port": port,
        "auth": auth,
        "auth_message": "AlignChat: log in with a user and password from ALIGNCHAT_AUTH." if auth else None,
        "max_file_size": settings.max_upload_mb * 1024 * 1024,
        "allowed_paths": [str(settings.evals_dir.resolve())],
        "show_error": False,
        "ssr_mode": False,
        "run_history": False,
        "footer_links": ["api", "settings"],
        "css": CSS,
        "app_kwargs": {"routes": article_routes(engine)},
    }

