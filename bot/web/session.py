"""What the web app remembers about one browser session's chat: the pipeline's Conversation
(earlier turns, article numbering) plus each turn as shown, for feedback, copy and export."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from bot.answer.pipeline import Conversation
from bot.core.types import Citation


@dataclass
class Turn:
    """One question and what the user saw in reply: a checked answer, an abstention or an error."""

    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    failed: bool = False
    abstained: bool = False


@dataclass
class ChatSession:
    """A browser session's chat. The chat window holds two messages per turn (question, reply),
    so the reply at message index i belongs to turn i // 2."""

    conversation: Conversation = field(default_factory=Conversation)
    turns: list[Turn] = field(default_factory=list)
    asked: deque[float] = field(default_factory=deque)  # when the last questions came, for the rate limit

    def wait_before_asking(self, per_minute: int, now: float | None = None) -> float:
        """Seconds until this session may ask again (0: now, and the question is counted). One
        session asking faster than `per_minute` would hold up every other reader's answers."""
        now = time.monotonic() if now is None else now
        while self.asked and now - self.asked[0] >= 60:
            self.asked.popleft()
        if per_minute and len(self.asked) >= per_minute:
            return 60 - (now - self.asked[0])
        self.asked.append(now)
        return 0.0

    def turn_for_message(self, index: int) -> Turn | None:
        turn = index // 2
        return self.turns[turn] if 0 <= turn < len(self.turns) else None

    def history_before(self, turn: Turn) -> list[dict[str, str]]:
        """The earlier turns of the conversation, oldest first."""
        earlier = self.turns[: self.turns.index(turn)]
        return [{"question": t.question, "answer": t.answer} for t in earlier]
