"""Reasoning models (DeepSeek-R1, Qwen3 and others) think aloud before answering, inside a
`<think>...</think>` block or, through some servers, in separate `reasoning_content` deltas (the
LLM clients write those as such a block, so there is one form to handle). That text is not the
answer: it is never streamed to the reader and never checked as a claim; the reader is only
told that the model is thinking, and for how long it has been.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from bot.core.events import Queued, Thinking

OPEN, CLOSE = "<think>", "</think>"


def without_thinking(pieces: Iterator[str | Queued]) -> Generator[str | Queued | Thinking, None, None]:
    """The pieces of a streamed reply, with a leading thinking block replaced by `Thinking`
    progress (the block may be split across pieces, or never closed). Closing this generator
    closes the model's stream too, which stops the generation."""
    try:
        yield from _answer_part(pieces)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def _answer_part(stream: Iterator[str | Queued]) -> Iterator[str | Queued | Thinking]:
    buffer = ""
    for piece in stream:
        if isinstance(piece, Queued):  # waiting for the model, before any text
            yield piece
            continue
        buffer += piece
        head = buffer.lstrip()
        if len(head) < len(OPEN) and OPEN.startswith(head):
            continue  # could still become the opening tag
        if not head.startswith(OPEN):
            yield buffer
            break
        if CLOSE in head:
            rest = head.split(CLOSE, 1)[1].lstrip()
            if rest:
                yield rest
            break
        yield Thinking(len(head[len(OPEN):].split()))
    else:  # the reply ended: an unclosed thinking block holds no answer
        if buffer.strip() and not buffer.lstrip().startswith(OPEN):
            yield buffer
        return
    yield from stream
