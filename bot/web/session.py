"""What the web app remembers about one browser session's chat: the pipeline's Conversation
(earlier turns, article numbering) plus each turn as shown, for feedback, copy and export."""

from __future__ import annotations

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

    def turn_for_message(self, index: int) -> Turn | None:
        turn = index // 2
        return self.turns[turn] if 0 <= turn < len(self.turns) else None

    def history_before(self, turn: Turn) -> list[dict[str, str]]:
        """The earlier turns of the conversation, oldest first."""
        earlier = self.turns[: self.turns.index(turn)]
        return [{"question": t.question, "answer": t.answer} for t in earlier]
