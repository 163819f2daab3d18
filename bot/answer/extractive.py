"""An answer built from the sources' own sentences: no LLM, always grounded.

Used when ALIGNCHAT_LLM=extractive, and as the fallback when a model's draft cannot be matched
to any source.
"""

from __future__ import annotations

import re

import numpy as np

from bot.core.text import content_words, is_instruction, sentences
from bot.core.types import Source

MAX_SENTENCES = 3
MAX_PER_SOURCE = 2
RANK_PENALTY = 0.03


def _plain(sentence: str) -> str:
    """A sentence without Markdown list bullets and emphasis, to read well inside an answer."""
    sentence = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", sentence)
    return re.sub(r"(\*\*|__|`)", "", sentence).strip()


def extract(question: str, sources: list[Source], embeddings) -> str:
    """The sentences of the sources most similar to the question, each marked with its source."""
    candidates: list[tuple[int, str]] = []
    for n, source in enumerate(sources, start=1):
        for passage in source.passages:
            for sentence in sentences(passage.text):
                sentence = _plain(sentence)
                if len(content_words(sentence)) >= 4 and not sentence.endswith(":") and not is_instruction(sentence):
                    candidates.append((n, sentence))
    if not candidates:
        return ""
    vectors = np.asarray(embeddings.embed_documents([s for _, s in candidates]))
    query = np.asarray(embeddings.embed_query(question))
    # Similarity to the question, with a small preference for the better-ranked sources.
    scores = vectors @ query - RANK_PENALTY * np.asarray([n - 1 for n, _ in candidates])
    chosen: list[int] = []
    per_source: dict[int, int] = {}
    seen: set[str] = set()
    for i in np.argsort(-scores):
        n, sentence = candidates[i]
        if per_source.get(n, 0) >= MAX_PER_SOURCE or sentence in seen:
            continue
        chosen.append(int(i))
        seen.add(sentence)
        per_source[n] = per_source.get(n, 0) + 1
        if len(chosen) == MAX_SENTENCES:
            break
    return " ".join(f"{candidates[i][1]} [{candidates[i][0]}]" for i in chosen)
