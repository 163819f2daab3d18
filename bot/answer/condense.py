"""Follow-up questions made standalone before retrieval.

"What did he say about wireheading?" retrieves nothing useful on its own. The rewrite is
deterministic, so it works the same with the bundled 135M model as with a large one: a question
that leans on the conversation (pronouns, "that", very short without naming its subject) gets
the previous question and the titles of the articles the previous answer cited.
"""

from __future__ import annotations

import re

from bot.answer.intent import named_term
from bot.core.text import content_words

_ANAPHORA = re.compile(
    r"\b(he|him|his|she|her|hers|they|them|their|it|its|this|that|these|those|there|such|"
    r"the (?:same|former|latter|author|paper|post|idea|argument|proposal|approach|theory))\b",
    re.I,
)
_CONTINUATION = re.compile(r"^\s*(and|but|also|so|what about|how about|why|who|when|where)\b", re.I)
SHORT = 4  # content words: fewer than this and the question cannot stand alone


def leans_on_history(question: str) -> bool:
    """Pronouns and "what about ..." lean on the turn before; so does a very short question,
    unless it names what it asks about: "What is reward hacking?" after "What is wireheading?"
    asks about reward hacking, not about the two together."""
    if _ANAPHORA.search(question):
        return True
    if _CONTINUATION.match(question) and len(content_words(question)) < SHORT + 2:
        return True
    return len(content_words(question)) < SHORT and not named_term(question)


def standalone(question: str, previous_question: str | None, previous_titles: list[str]) -> str:
    """The retrieval query for `question`, given the turn before it (if any)."""
    if not previous_question or not leans_on_history(question):
        return question
    context = " ".join([previous_question, *previous_titles[:2]])
    return f"{question} ({context})"
