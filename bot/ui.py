"""The Gradio chat page. It renders answer events and holds no retrieval or prompt logic."""

from __future__ import annotations

import html
import logging
from collections import OrderedDict
from collections.abc import Iterator

import gradio as gr

from bot.pipeline import Conversation, Engine, answer
from bot.render import link_markers, sources_block
from bot.schema import Cited, Failed, Token

log = logging.getLogger(__name__)
MAX_SESSIONS = 500
EXAMPLES = [
    "If an AI is trained with rewards, won't it just want the reward?",
    "What is shard theory in simple terms?",
    "What is wireheading and why does it worry alignment researchers?",
]


class Sessions:
    """Each browser session's conversation (article numbering, earlier turns), bounded in count."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Conversation] = OrderedDict()

    def get(self, key: str, fresh: bool) -> Conversation:
        if fresh or key not in self._items:
            self._items[key] = Conversation()
        self._items.move_to_end(key)
        while len(self._items) > MAX_SESSIONS:
            self._items.popitem(last=False)
        return self._items[key]


def render(cited: Cited) -> str:
    body = link_markers(cited.answer_text, cited.citations)
    if cited.abstained:
        return body + sources_block(cited.related, "Closest sources")
    note = ""
    if cited.unsupported_sentences:
        note = f"\n\n<small>⚠ {cited.unsupported_sentences} sentence(s) could not be matched to a source.</small>"
    return body + note + sources_block(cited.citations)


def build_app(engine: Engine) -> gr.Blocks:
    sessions = Sessions()

    def respond(message: str, history: list, request: gr.Request) -> Iterator[str]:
        conversation = sessions.get(request.session_hash or "cli", fresh=not history)
        draft = ""
        try:
            for event in answer(message, engine, conversation):
                if isinstance(event, Token):
                    draft += event.text
                    yield html.escape(draft, quote=False)
                elif isinstance(event, Failed):
                    yield f"⚠ {html.escape(event.message)}"
                    return
                elif isinstance(event, Cited):
                    yield render(event)
        except Exception:  # the page must stay usable whatever goes wrong
            log.exception("answer failed")
            yield "⚠ Something went wrong while answering; the details are in the server log. Please try again."

    with gr.Blocks(title="AlignChat") as app:
        gr.Markdown(
            f"## AlignChat — questions about AI alignment, answered from a cited library\n"
            f"<small>Answer model: **{html.escape(engine.llm_name)}** · "
            f"{engine.store.count()} passages indexed</small>"
        )
        gr.ChatInterface(
            respond,
            chatbot=gr.Chatbot(height=560, sanitize_html=True, placeholder="Ask about reward learning, shard theory, wireheading…"),
            textbox=gr.Textbox(placeholder="Ask a question about AI alignment", max_length=2000, submit_btn=True),
            examples=EXAMPLES,
            cache_examples=False,
            api_name="ask",
            concurrency_limit=4,
        )
    return app
