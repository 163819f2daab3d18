"""Shared, expensive fixtures: one index of the bundled corpus and one engine per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from bot.web.cluster import wait_for_port

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "articles"


def run_cli(args: list[str], data_dir: Path, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m ...` as a user would, with its own data dir."""
    full_env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


KEYWORD_PROBES = ("reward hacking wireheading", "shard theory values humans", "goal misgeneralization coinrun",
                  "inner alignment mesa-optimizer")


def keyword_state(data_dir: Path) -> dict:
    """What the committed keyword index of a data dir answers, keyed by chunk and article ids
    (comparable between two data dirs built in different orders): the live chunks, every
    field's nonzero BM25 scores for a few probes, and the document frequency of some words."""
    from bot.core.keywords import KeywordIndex
    from bot.core.settings import Settings

    index = KeywordIndex(Settings(data_dir=data_dir).keywords_dir)
    state: dict = {"chunks": sorted(index.live_chunk_ids())}
    for probe in KEYWORD_PROBES:
        words = probe.split()
        passages = index.bm25("passage", words)
        state[probe, "passage"] = {index.chunk_id(int(r)): round(float(passages[r]), 6) for r in np.flatnonzero(passages)}
        for field in ("article", "field"):
            scores = index.bm25(field, words)
            state[probe, field] = {index.doc_id(int(a)): round(float(scores[a]), 6) for a in np.flatnonzero(scores)}
    state["df"] = {w: index.passages_with(w) for w in ("reward", "shard", "agent", "wirehead", "goal")}
    return state


@pytest.fixture(scope="session")
def corpus_data_dir(tmp_path_factory) -> Path:
    """A data dir holding the bundled corpus, ingested once through the real CLI."""
    data_dir = tmp_path_factory.mktemp("corpus-data")
    result = run_cli(["-m", "ingest", "--json", str(CORPUS)], data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return data_dir


@pytest.fixture(scope="session")
def corpus_settings(corpus_data_dir):
    from bot.core.settings import Settings

    return Settings(data_dir=corpus_data_dir, llm="extractive")


@pytest.fixture(scope="session")
def extractive_engine(corpus_settings):
    from bot.answer.pipeline import Engine

    return Engine.open(corpus_settings)


@contextmanager
def serving(command: list[str], port: int, log_path: Path, timeout: float) -> Iterator[None]:
    """A real server process listening on a loopback port for the duration of the block."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc, command[0], timeout)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on loopback, for ALIGNCHAT_CHROMA_URL."""
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    command = [str(chroma), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)]
    with serving(command, port, path / "server.log", timeout=60):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory):
    """`python -m llama_cpp.server` serving the bundled model on loopback (an OpenAI-compatible API)."""
    from bot.core.models import bundled_llm_path

    model = bundled_llm_path(tmp_path_factory.mktemp("models"))
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2",
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    with serving(command, port, model.parent / "server.log", timeout=120):
        yield f"http://127.0.0.1:{port}/v1"
