"""Each LLM backend answering for real: llama.cpp in-process (bundled), an OpenAI-compatible
server on loopback (llama_cpp.server with the bundled model, `openai_server` in conftest), and
the failure modes."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from bot.core.models import bundled_llm_path
from tests.conftest import free_port, run_cli

pytestmark = pytest.mark.slow
QUESTION = "What is wireheading, and where does the term come from?"


def check_cited(result, doc_id: str) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert not out["abstained"]
    assert doc_id in [c["doc_id"] for c in out["citations"]]
    for c in out["citations"]:
        assert f"[{c['n']}]" in out["answer"]
    return out


def test_bundled_llama_cpp(corpus_data_dir):
    out = check_cited(run_cli(["-m", "bot", "ask", "--json", "--llm", "bundled", QUESTION], corpus_data_dir),
                      "wireheading")
    assert out["timings"]["first_token_s"] > 0


def test_gguf_path(corpus_data_dir):
    model = bundled_llm_path(corpus_data_dir / "models")
    check_cited(run_cli(["-m", "bot", "ask", "--json", "--llm", f"gguf:{model}", QUESTION], corpus_data_dir),
                "wireheading")


def test_openai_compatible_server(corpus_data_dir, openai_server):
    env = {"OPENAI_BASE_URL": openai_server, "OPENAI_API_KEY": "local"}
    check_cited(run_cli(["-m", "bot", "ask", "--json", "--llm", "openai:smollm2", QUESTION], corpus_data_dir, env=env),
                "wireheading")


def test_llm_server_down_is_a_clear_message(corpus_data_dir):
    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    result = run_cli(["-m", "bot", "ask", "--llm", "openai:any", QUESTION], corpus_data_dir, env=env)
    assert result.returncode == 1
    assert "cannot reach the LLM server" in result.stderr and "Traceback" not in result.stderr
    assert "Retrieved sources:" in result.stderr and "Wireheading" in result.stderr


def test_llm_server_too_slow_is_a_clear_message(corpus_data_dir):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{silent.getsockname()[1]}/v1", "ALIGNCHAT_LLM_TIMEOUT": "2"}
    try:
        result = run_cli(["-m", "bot", "ask", "--llm", "openai:any", QUESTION], corpus_data_dir, env=env)
    finally:
        silent.close()
    assert result.returncode == 1
    assert "did not answer within 2 s" in result.stderr and "Traceback" not in result.stderr


def test_missing_gguf_file_is_a_clear_message(corpus_data_dir, tmp_path):
    result = run_cli(["-m", "bot", "ask", "--llm", f"gguf:{tmp_path}/nope.gguf", QUESTION], corpus_data_dir)
    assert result.returncode == 2
    assert "no GGUF model" in result.stderr and "Traceback" not in result.stderr
