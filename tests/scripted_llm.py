"""A scripted LLM: replays prepared drafts through the pipeline's LLM interface, piece by
piece as a streaming server sends them, so every branch of the answer pipeline is tested fast
and deterministically.

Drafts cite sources by title, `{Wireheading}`, and the placeholder becomes the number that
source has in the prompt the pipeline built: the drafts stay right when retrieval reorders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.answer.llm import LLMUnavailable, Message

_PIECE = re.compile(r"\S+\s*|\s+")
_SOURCE_LINE = re.compile(r"^\[(\d+)\] (.+)$", re.M)
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass
class Reply:
    text: str
    fail_after: int | None = None  # pieces sent before the failure
    error: Exception | None = None  # the failure; by default the connection to the server drops
    pieces: tuple[str, ...] = ()  # sent exactly so (a tag split across pieces), instead of word by word


class ScriptedLLM:
    """Answers each call with the next prepared reply; records every prompt it was given."""

    def __init__(self, *replies: str | Reply, name: str = "scripted", context_tokens: int = 4096,
                 small: bool = False) -> None:
        self.replies = [r if isinstance(r, Reply) else Reply(r) for r in replies]
        self.name = name
        self.context_tokens = context_tokens
        self.small = small
        self.prompts: list[list[Message]] = []

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        self.prompts.append(messages)
        if not self.replies:
            raise AssertionError("the pipeline asked the scripted LLM for more replies than the test prepared")
        reply = self.replies.pop(0)
        numbers = {title: n for n, title in _SOURCE_LINE.findall(messages[-1]["content"])}

        def number(match: re.Match[str]) -> str:
            title = match.group(1)
            if title not in numbers:
                raise AssertionError(f"no source titled {title!r} in the prompt; it has {sorted(numbers)}")
            return numbers[title]

        pieces = [_PLACEHOLDER.sub(number, p) for p in reply.pieces] or _PIECE.findall(_PLACEHOLDER.sub(number, reply.text))
        for i, piece in enumerate(pieces):
            if reply.fail_after is not None and i == reply.fail_after:
                raise reply.error or LLMUnavailable(
                    "cannot reach the LLM server at http://127.0.0.1:9/v1 (RemoteProtocolError): "
                    "start it, fix OPENAI_BASE_URL, or set ALIGNCHAT_LLM=extractive")
            yield piece
