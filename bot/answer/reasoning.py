"""Reasoning models (DeepSeek-R1, Qwen3 and others) think aloud before answering, inside a
`<think>...</think>` block. That text is not the answer: it is never streamed to the reader and
never checked as a claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

OPEN, CLOSE = "<think>", "</think>"
_BLOCK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)


def strip_thinking(text: str) -> str:
    """The answer part of a complete reply. Some chat templates put the opening tag in the prompt,
    so a closing tag alone also ends the thinking; an unclosed block (cut off by the token limit)
    leaves no answer."""
    text = _BLOCK.sub("", text)
    if CLOSE in text:
        text = text.rsplit(CLOSE, 1)[1]
    return text.strip()


def without_thinking(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces of a streamed reply, minus a leading thinking block (held back until it closes)."""
    buffer = ""
    stream = iter(pieces)
    for piece in stream:
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
    else:  # the reply ended: an unclosed thinking block holds no answer
        if buffer.strip() and not buffer.lstrip().startswith(OPEN):
            yield buffer
        return
    yield from stream
