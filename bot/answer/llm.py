"""Answer generators behind one small interface: llama.cpp (bundled or any GGUF) and any
OpenAI-compatible server. `extractive` needs no LLM and is handled by the pipeline."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx

from bot.answer.reasoning import CLOSE, OPEN
from bot.answer.turnstile import Turnstile
from bot.core.events import Queued
from bot.core.models import ModelMissing, bundled_llm_path
from bot.core.settings import Settings

log = logging.getLogger(__name__)
Message = dict[str, str]


class LLMUnavailable(RuntimeError):
    """The LLM could not answer (server down, timeout, bad model); the message says what to do."""


class LLM(Protocol):
    name: str
    context_tokens: int
    small: bool  # answers from a few chosen sentences (short prompt), not from whole passages

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str | Queued]:
        """Yield the answer's text pieces as they are generated (and, for a model that writes one
        answer at a time, `Queued` progress while this one waits its turn)."""
        ...


class LlamaCppLLM:
    """A local GGUF model run in-process by llama.cpp."""

    def __init__(self, path: Path, n_threads: int | None = None, context_tokens: int = 4096, seed: int = 0,
                 small: bool = False) -> None:
        if not path.is_file():
            raise ModelMissing(f"no GGUF model at {path}: check ALIGNCHAT_LLM=gguf:/path/model.gguf")
        from llama_cpp import Llama

        self.name = path.name
        self.context_tokens = context_tokens
        self.small = small
        threads = n_threads or os.cpu_count() or 1
        try:
            self._model = Llama(model_path=str(path), n_ctx=context_tokens, n_threads=threads,
                                n_threads_batch=threads, seed=seed, verbose=False)
        except ValueError as exc:
            raise ModelMissing(f"llama.cpp cannot load {path}: {exc}") from exc
        # One llama.cpp context serves one generation at a time; the others wait in line.
        self._turnstile = Turnstile()

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str | Queued]:
        ticket = yield from self._turnstile.enter()
        try:
            for part in self._model.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True,
                repeat_penalty=1.3,
            ):
                text = part["choices"][0]["delta"].get("content")
                if text:
                    yield text
        finally:
            self._turnstile.leave(ticket)


class OpenAICompatibleLLM:
    """Any server speaking the OpenAI chat completions API: OpenAI, Ollama, vLLM, llama.cpp..."""

    def __init__(self, model: str, base_url: str, api_key: str, timeout: float, context_tokens: int = 8192) -> None:
        self.name = model
        self.context_tokens = context_tokens
        self.small = False
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        body = {"model": self.name, "messages": messages, "max_tokens": max_tokens,
                "temperature": temperature, "stream": True}
        url = f"{self.base_url}/chat/completions"
        thinking = answered = False
        try:
            with httpx.stream("POST", url, json=body, headers=self._headers, timeout=self._timeout) as response:
                if response.status_code != 200:
                    detail = response.read().decode("utf-8", "replace")[:300]
                    raise LLMUnavailable(
                        f"the LLM server at {self.base_url} answered HTTP {response.status_code}: {detail}"
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choices = json.loads(data).get("choices") or [{}]
                    delta = choices[0].get("delta") or {}
                    thought = delta.get("reasoning_content") or delta.get("reasoning")
                    if thought and not answered:  # written as the <think> block other reasoning models inline
                        yield thought if thinking else OPEN + thought
                        thinking = True
                    text = delta.get("content")
                    if text:
                        yield CLOSE + text if thinking else text
                        thinking, answered = False, True
        except httpx.TimeoutException as exc:
            raise LLMUnavailable(
                f"the LLM server at {self.base_url} did not answer within {self._timeout.read:.0f} s: "
                "check that it is running, or raise ALIGNCHAT_LLM_TIMEOUT"
            ) from exc
        except httpx.HTTPError as exc:
            if thinking or answered:
                raise LLMUnavailable(
                    f"the LLM server at {self.base_url} stopped in the middle of the answer "
                    f"({exc.__class__.__name__}): check that it is still running"
                ) from exc
            raise LLMUnavailable(
                f"cannot reach the LLM server at {self.base_url} ({exc.__class__.__name__}): start it, "
                "fix OPENAI_BASE_URL, or set ALIGNCHAT_LLM=extractive to answer without an LLM"
            ) from exc


def make_llm(settings: Settings) -> LLM | None:
    """The generator the settings name; None for `extractive`."""
    kind, _, value = settings.llm.partition(":")
    if kind == "extractive":
        return None
    if kind == "bundled":
        return LlamaCppLLM(bundled_llm_path(settings.models_dir), settings.n_threads, 2048, settings.seed, small=True)
    if kind == "gguf":
        return LlamaCppLLM(Path(value).expanduser(), settings.n_threads, seed=settings.seed)
    base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
    return OpenAICompatibleLLM(value, base_url, os.environ.get("OPENAI_API_KEY", ""), settings.llm_timeout)
