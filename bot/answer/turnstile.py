"""One generation at a time on a local model, first come first served, with each waiting answer
told its place in line and the expected wait.

A llama.cpp context writes one answer at a time; with a plain lock, eight readers asking at once
would each watch "writing the answer…" for up to a minute with no idea why. The turnstile keeps
the order of arrival and yields `Queued` progress (answers ahead, seconds expected from the
recent generations) about once a second until it is this answer's turn.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Generator

from bot.core.events import Queued

RECENT = 20  # generations the expected wait is averaged over
TICK_S = 1.0  # how often a waiting answer hears of its place in line


class Turnstile:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: deque[object] = deque()  # the head is the generation running now
        self._started = 0.0
        self._recent: deque[float] = deque(maxlen=RECENT)

    def _expected_wait(self, ahead: int) -> float | None:
        if not self._recent:
            return None
        typical = sum(self._recent) / len(self._recent)
        running_left = max(0.0, typical - (time.monotonic() - self._started))
        return running_left + (ahead - 1) * typical

    def enter(self) -> Generator[Queued, None, object]:
        """Wait for this generation's turn, yielding its place in line meanwhile; returns the
        ticket to `leave` with. Closing it while waiting gives up the place."""
        ticket = object()
        with self._cond:
            self._line.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._line[0] is ticket:
                        self._started = time.monotonic()
                        return ticket
                    ahead = self._line.index(ticket)
                    progress = Queued(ahead, self._expected_wait(ahead))
                yield progress
                with self._cond:
                    if self._line[0] is not ticket:
                        self._cond.wait(TICK_S)
        except BaseException:
            self.leave(ticket, timed=False)
            raise

    def leave(self, ticket: object, timed: bool = True) -> None:
        """End this generation (or give up waiting) and let the next one in."""
        with self._cond:
            was_running = bool(self._line) and self._line[0] is ticket
            if was_running and timed:
                self._recent.append(time.monotonic() - self._started)
            if ticket in self._line:
                self._line.remove(ticket)
            if was_running and self._line:
                self._started = time.monotonic()
            self._cond.notify_all()
