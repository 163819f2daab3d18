"""The engine loaded on a background thread, so the web page is served before the models are.

Loading the embedding model, the search index and the LLM takes most of a start (and grows with
the library); none of it is needed to draw the page. `LoadingEngine` opens the index at once (the
Library tab lists it, and a missing or damaged index still stops the start with its message),
loads the rest in the background, and is the engine everywhere else: anything that needs a
loaded part waits for it, and `ready` lets the chat say that it is still loading.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.answer.pipeline import Engine
from bot.core.index import IndexStore
from bot.core.settings import Settings

log = logging.getLogger(__name__)


class LoadingEngine:
    def __init__(self, settings: Settings, load: Callable[[], Engine]) -> None:
        self.settings = settings
        self._store = IndexStore.open_for_reading(settings)
        self._engine: Engine | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._load, args=(load,), name="engine-loader", daemon=True).start()

    def _load(self, load: Callable[[], Engine]) -> None:
        started = time.perf_counter()
        try:
            self._engine = load()
            log.info("loaded in %.1f s: %d passages, answers by %s", time.perf_counter() - started,
                     self._engine.store.count(), self._engine.llm_name)
        except BaseException as exc:  # every later use says what went wrong
            self._error = exc
            log.error("the answering engine could not be loaded: %s", exc)
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def wait(self) -> Engine:
        """The loaded engine (waiting for it if need be); the loading error, raised again."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._engine is not None
        return self._engine

    @property
    def store(self) -> IndexStore:
        return self._engine.store if self._engine is not None else self._store

    def refresh_if_changed(self) -> bool:
        """While loading there is nothing to refresh: the engine being loaded reads the index as it is."""
        return self.wait().refresh_if_changed() if self.ready else False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wait(), name)
