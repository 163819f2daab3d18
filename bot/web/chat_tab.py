"""The Chat tab: streamed, cited answers with per-session history, settings, feedback, copy and
export. It renders the answer pipeline's events and holds no retrieval or prompt logic."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from bot.answer.llm import LLMUnavailable
from bot.answer.pipeline import MAX_QUESTION_CHARS, Engine, answer
from bot.answer.retrieval import Filters
from bot.core.events import Cited, Failed, Queued, Retrieved, Sentence, Thinking, Token
from bot.core.models import ModelMissing
from bot.core.types import Citation
from bot.web.backends import MAX_MODEL_CHARS, MAX_TOP_K, STYLES, Backends, status_html
from bot.web.export import answer_markdown, conversation_markdown
from bot.web.feedback import MAX_COMMENT_CHARS, FeedbackLog
from bot.web.render import answer_html, notice_html, partial_html, pending_html, question_html
from bot.web.session import ChatSession, Turn

log = logging.getLogger(__name__)

EXAMPLES = [
    "If an AI is trained with rewards, won't it just want the reward?",
    "What is shard theory in simple terms?",
    "What is wireheading and why does it worry alignment researchers?",
]
EMPTY_LIBRARY = "The library is empty: add articles in the Library tab (or run `python -m ingest`), then ask again."
PROGRESS_WORDS = 8  # the "words drafted" count is redrawn every few words, not on every token
CRASHED = "Something went wrong while answering; the details are in the server log. Please try again."
COPY_JS = """(text) => {
  if (!text) { return; }
  if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text); return; }
  const area = document.createElement("textarea");
  area.value = text; document.body.appendChild(area); area.select();
  document.execCommand("copy"); area.remove();
}"""


@dataclass
class ChatControls:
    """Components other tabs update or read (the Evaluation tab runs with the chat's settings)."""

    tags: gr.Dropdown
    settings_inputs: list[gr.components.Component]


class ChatTab:
    def __init__(self, engine: Engine, export_dir: Path) -> None:
        self.engine = engine
        self.backends = Backends.from_settings(engine.settings)
        self.feedback = FeedbackLog(engine.settings.feedback_file)
        self.export_dir = export_dir

    # --- handlers --------------------------------------------------------------------------------

    def respond(self, question: str, messages: list[dict[str, Any]], session: ChatSession, backend: str,
                model: str, style: str, top_k: float, tags: list[str] | None,
                request: gr.Request) -> Iterator[tuple[Any, ...]]:
        """Stream one turn into the chat: the question, a placeholder, the draft, the checked answer."""
        question = (question or "").strip()[: MAX_QUESTION_CHARS + 1]
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        wait = session.wait_before_asking(self.engine.settings.rate_limit)
        if wait:  # the question stays in the box, to be sent again
            gr.Warning(f"You have asked {self.engine.settings.rate_limit} questions in the last minute, the most this "
                       f"app allows one chat (ALIGNCHAT_RATE_LIMIT). Your question is still in the box: send it "
                       f"again in {max(1, round(wait))} s.")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        anchor = f"turn{len(session.turns) + 1}-source"
        messages = [*messages, {"role": "user", "content": question_html(question)},
                    {"role": "assistant", "content": pending_html("Searching the library…")}]
        yield messages, "", session, gr.skip(), gr.skip()
        turn = Turn(question, "")
        for content in self._reply(question, session, turn, anchor, backend, model, style, top_k, tags):
            messages[-1] = {"role": "assistant", "content": content}
            yield messages, gr.skip(), session, gr.skip(), gr.skip()
        session.turns.append(turn)
        yield messages, gr.skip(), session, self._export(session, backend, model, request), answer_markdown(turn)

    def _reply(self, question: str, session: ChatSession, turn: Turn, anchor: str, backend: str, model: str,
               style: str, top_k: float, tags: list[str] | None) -> Iterator[str]:
        """The reply's successive HTML; fills in `turn`. Every failure becomes a readable notice."""
        if not self.engine.ready:
            yield pending_html("Loading the models and the search index (the app has just started); "
                               "your answer follows in a few seconds…")
        if self.engine.store.count() == 0:
            turn.answer, turn.failed = EMPTY_LIBRARY, True
            yield notice_html(EMPTY_LIBRARY)
            return
        try:
            self.engine.refresh_if_changed()
            settings = self.backends.settings_for(self.engine.settings, backend, model, style, top_k)
            engine = self.engine.for_settings(settings)
            shown: list[str] = []
            citations: list[Citation] = []
            words, retrieved = 0, False
            thought_shown: int | None = None  # words of thought when the page last said so
            for event in answer(question, engine, session.conversation, settings, Filters(tags=tuple(tags or ()))):
                if isinstance(event, Retrieved):
                    retrieved = True
                    if engine.llm is not None:
                        yield pending_html(f"Found {len(event.passages)} passages; writing the answer…")
                elif isinstance(event, Queued):
                    yield pending_html(event.words)
                elif isinstance(event, Thinking):
                    if thought_shown is None or event.words - thought_shown >= PROGRESS_WORDS:
                        thought_shown = event.words
                        yield pending_html(f"The model is thinking ({event.words} words so far); the answer follows…")
                elif isinstance(event, Token):
                    words += len(event.text.split())
                    if words % PROGRESS_WORDS == 0 or not shown:
                        yield partial_html(" ".join(shown), citations, words)
                elif isinstance(event, Sentence):
                    shown.append(event.text)
                    citations = event.citations
                    yield partial_html(" ".join(shown), citations, words)
                elif isinstance(event, Failed):
                    # After retrieval only the LLM can fail: say how to get an answer anyway.
                    hint = ". You can also pick another backend under Settings." if retrieved else ""
                    turn.answer, turn.failed = event.message, True
                    yield notice_html(event.message + hint)
                    return
                elif isinstance(event, Cited):
                    turn.answer, turn.citations, turn.abstained = event.text, event.citations, event.abstained
                    yield answer_html(event, anchor)
        except (LLMUnavailable, ModelMissing, ValueError) as exc:
            turn.answer, turn.failed = str(exc), True
            yield notice_html(str(exc))
        except Exception:  # the page must stay usable whatever goes wrong
            log.exception("answer failed")
            turn.answer, turn.failed = CRASHED, True
            yield notice_html(CRASHED)

    def _export(self, session: ChatSession, backend: str, model: str, request: gr.Request) -> Any:
        """Rewrite this session's Markdown export, so the download button always has it all."""
        folder = self.export_dir / (request.session_hash or "default")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "alignchat-conversation.md"
        path.write_text(conversation_markdown(session, f"{backend} · {model}"), encoding="utf-8")
        return gr.update(value=str(path), interactive=True)

    def vote(self, session: ChatSession, comment: str, like: gr.LikeData) -> tuple[str, str]:
        """Record a thumbs up/down (with the optional comment) for the answer it was given on."""
        index = like.index[0] if isinstance(like.index, list | tuple) else like.index
        turn = session.turn_for_message(index)
        if turn is None or like.liked not in (True, False):
            return "", comment
        rating = "up" if like.liked is True else "down"
        self.feedback.record(session, turn, rating, comment or "")
        thanks = "Thanks, noted 👍" if rating == "up" else "Thanks, noted 👎: what was wrong helps most in a comment"
        return f"<small>{thanks} (saved to feedback.jsonl).</small>", ""

    @staticmethod
    def pick_example(selected: gr.SelectData) -> str:
        return selected.value["text"]

    def new_chat(self) -> tuple[Any, ...]:
        return [], ChatSession(), gr.update(value=None, interactive=False), "", ""

    def on_backend(self, backend: str) -> tuple[Any, Any]:
        model = self.backends.model_for(backend)
        return (gr.update(value=model, interactive=backend == "openai"), status_html(backend, model))

    # --- layout ------------------------------------------------------------------------------------

    def build(self, status: gr.HTML, tag_choices: list[str]) -> ChatControls:
        session = gr.State(ChatSession())
        answer_md = gr.Textbox(visible=False)
        with gr.Row():
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(
                    elem_id="chat", height=560, render_markdown=False, sanitize_html=True, allow_tags=False,
                    latex_delimiters=[], buttons=[], feedback_options=("Like", "Dislike"),
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="Ask about reward learning, shard theory, wireheading… Every claim links to its source.",
                )
                with gr.Row():
                    question = gr.Textbox(elem_id="question", show_label=False, scale=5, max_length=MAX_QUESTION_CHARS,
                                          placeholder=f"Ask a question about AI alignment (up to {MAX_QUESTION_CHARS} characters)")
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    new = gr.Button("New chat", size="sm", elem_id="new-chat")
                    copy = gr.Button("Copy last answer", size="sm", elem_id="copy-answer")
                    export = gr.DownloadButton("Export conversation (.md)", size="sm", interactive=False, elem_id="export")
                comment = gr.Textbox(label="Comment (optional), sent with your next thumbs up or down on an answer", lines=1,
                                     max_length=MAX_COMMENT_CHARS, elem_id="feedback-comment")
                feedback_status = gr.HTML(elem_id="feedback-status")
            with gr.Column(scale=1, min_width=240), gr.Accordion("Settings", open=True):
                backend = gr.Dropdown(self.backends.choices(), value=self.backends.default, label="LLM backend",
                                      elem_id="backend")
                model = gr.Textbox(self.backends.model_for(self.backends.default), label="Model", elem_id="model",
                                   interactive=self.backends.default == "openai", max_length=MAX_MODEL_CHARS)
                style = gr.Radio(STYLES, value=self.engine.settings.answer_style, label="Answer style")
                top_k = gr.Slider(1, MAX_TOP_K, value=min(self.engine.settings.top_k, MAX_TOP_K), step=1, label="Number of sources")
                tags = gr.Dropdown(tag_choices, value=[], multiselect=True, label="Only articles tagged",
                                   elem_id="tag-filter")

        settings_inputs = [backend, model, style, top_k]
        outputs = [chatbot, question, session, export, answer_md]
        inputs = [question, chatbot, session, *settings_inputs, tags]
        for trigger in (question.submit, ask.click):
            trigger(self.respond, inputs, outputs, concurrency_limit=8, concurrency_id="chat", api_visibility="private")
        chatbot.example_select(self.pick_example, None, question, api_visibility="private").then(
            self.respond, inputs, outputs, concurrency_limit=8, concurrency_id="chat", api_visibility="private")
        chatbot.like(self.vote, [session, comment], [feedback_status, comment], api_visibility="private")
        reset = [chatbot, session, export, answer_md, feedback_status]
        new.click(self.new_chat, None, reset, api_visibility="private")
        chatbot.clear(self.new_chat, None, reset, api_visibility="private")
        copy.click(None, answer_md, None, js=COPY_JS)
        backend.change(self.on_backend, backend, [model, status], api_visibility="private")
        model.change(status_html, [backend, model], status, api_visibility="private")
        return ChatControls(tags=tags, settings_inputs=settings_inputs)
