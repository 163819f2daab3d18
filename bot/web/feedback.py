"""Thumbs up/down on answers, appended to `<data_dir>/feedback.jsonl`.

One JSON object per vote, holding what the evaluation harness needs to turn it into a question
set line: the question, the conversation before it, the answer, its citations and, for a
thumbs-up, the cited articles as gold sources. `questions_from_feedback` does that conversion.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot.web.session import ChatSession, Turn

log = logging.getLogger(__name__)
MAX_COMMENT_CHARS = 2000
Rating = Literal["up", "down"]


class FeedbackLog:
    """Appends votes to one JSONL file; a lock keeps concurrent votes on separate lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, session: ChatSession, turn: Turn, rating: Rating, comment: str = "") -> dict[str, Any]:
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "question": turn.question,
            "history": session.history_before(turn),
            "answer": turn.answer,
            "citations": [{"n": c.n, "doc_id": c.doc_id, "title": c.title, "url": c.url} for c in turn.citations],
            "rating": rating,
            "comment": comment.strip()[:MAX_COMMENT_CHARS],
            "gold_sources": [c.doc_id for c in turn.citations] if rating == "up" else [],
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line)
        log.info("feedback %s recorded in %s", rating, self.path)
        return entry


def questions_from_feedback(path: Path) -> list[dict[str, Any]]:
    """Question-set lines (the format of corpus/questions.jsonl) from the thumbs-up votes that
    cited something: the cited articles become the gold sources and the answer the reference.
    Thumbs-down votes need a person to say what the right sources are, so they are left out."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        vote = json.loads(line)
        if vote.get("rating") != "up" or not vote.get("gold_sources"):
            continue
        questions.append({
            "id": f"feedback-{number:04d}",
            "question": vote["question"],
            "reference_answer": vote.get("answer", ""),
            "gold_sources": vote["gold_sources"],
            "answerable": True,
            "tags": ["feedback"],
            "history": [h["question"] for h in vote.get("history", [])],
        })
    return questions
