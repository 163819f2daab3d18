"""The answering backends a page visitor may choose, and the settings a choice makes.

Shared by the Chat tab (which answers with the choice) and the Evaluation tab (which evaluates
with the same choice).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

from bot.core.settings import Settings

STYLES = ["concise", "detailed", "beginner"]
BUNDLED_MODEL = "SmolLM2-135M-Instruct"
MAX_MODEL_CHARS = 100
MAX_TOP_K = 10


@dataclass(frozen=True)
class Backends:
    """The LLM backends a page visitor may pick. The configured one, the bundled model and
    extractive always; an OpenAI-compatible server only when the server's environment names
    one (the page chooses the model name, never the address); a GGUF file only the configured
    one, so a visitor cannot make the server open other files."""

    configured: str
    openai_available: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> Backends:
        openai = settings.llm.startswith("openai:") or bool(os.environ.get("OPENAI_BASE_URL"))
        return cls(settings.llm, openai)

    def choices(self) -> list[str]:
        kinds = ["bundled", "extractive"]
        if self.configured.startswith("gguf:"):
            kinds.append("gguf")
        if self.openai_available:
            kinds.append("openai")
        return kinds

    @property
    def default(self) -> str:
        return self.configured.split(":", 1)[0]

    def model_for(self, backend: str) -> str:
        kind, _, value = self.configured.partition(":")
        if backend == "bundled":
            return BUNDLED_MODEL
        if backend == "extractive":
            return "none: answers quote the sources"
        if backend == "gguf":
            return Path(value).name
        return value if kind == "openai" else ""

    def settings_for(self, base: Settings, backend: str, model: str, style: str, top_k: float) -> Settings:
        """`base` with the page's choices of backend, model, style and number of sources;
        ValueError names a bad choice."""
        return base.model_copy(update={
            "llm": self.spec(backend, model),
            "answer_style": style if style in STYLES else base.answer_style,
            "top_k": max(1, min(MAX_TOP_K, int(top_k))),
        })

    def spec(self, backend: str, model: str) -> str:
        """The ALIGNCHAT_LLM value for a choice made on the page; ValueError says what to fix."""
        if backend not in self.choices():
            raise ValueError(f"the backend {backend!r} is not available here: pick one of {', '.join(self.choices())}")
        if backend == "openai":
            model = model.strip()
            if not model or len(model) > MAX_MODEL_CHARS or any(c.isspace() for c in model):
                raise ValueError("type the model name the OpenAI-compatible server serves (e.g. llama3.1) under Settings")
            return f"openai:{model}"
        if backend == "gguf":
            return self.configured
        return backend


def status_html(backend: str, model: str) -> str:
    """The always-visible line saying which backend and model answer."""
    return (f'<div class="backend-status">Answering with <b>{html.escape(backend)}</b> · '
            f"model <b>{html.escape(model or '(none chosen)')}</b></div>")
