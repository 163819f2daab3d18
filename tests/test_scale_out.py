"""The scale-out setup: two app processes on one `chroma run` server, started by the launcher."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import CORPUS, ROOT, free_port
from tests.test_library_safety import NEW_ARTICLE, ask, call_event

pytestmark = pytest.mark.slow


def _serving(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the launcher stopped early"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not serving after {timeout} s")


def test_an_article_added_through_one_app_is_answered_by_the_other(tmp_path):
    corpus = tmp_path / "articles"
    corpus.mkdir()
    for path in sorted(CORPUS.glob("*.md"))[:3]:
        shutil.copy(path, corpus / path.name)
    data_dir = tmp_path / "data"
    ports = [free_port(), free_port()]
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir)}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "bot.web.cluster", "--llm", "extractive", "--corpus", str(corpus),
         "--chroma-port", str(free_port()), "--app-ports", ",".join(map(str, ports))],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first, second = (f"http://127.0.0.1:{p}/" for p in ports)
    try:
        for url in (first, second):
            _serving(url, launcher, 600)
        assert not (data_dir / "chroma").exists(), "the apps use the server, not an embedded index"

        class Server:  # what `ask` needs of an app
            def __init__(self, url: str) -> None:
                self.url = url

        assert "Quokka" not in ask(Server(second), "What are quokka alignment drills?")
        client = httpx.Client(timeout=300)
        uploaded = client.post(first + "gradio_api/upload",
                               files=[("files", ("quokka.md", NEW_ARTICLE.encode(), "text/markdown"))]).json()
        files = [{"path": uploaded[0], "orig_name": "quokka.md", "meta": {"_type": "gradio.FileData"}}]
        summary = call_event(client, first, "library-add", [files, "", "", "Title (A–Z)"])[0]
        assert "1 added" in summary
        answer = ask(Server(second), "What are quokka alignment drills?")
        assert "Quokka" in answer and re.search(r"article/[^\"?]*quokka", answer)  # cited by the other process
    finally:
        launcher.send_signal(signal.SIGTERM)
        output = launcher.communicate(timeout=120)[0]
    assert launcher.returncode == 0, output[-3000:]
    for port in ports:  # every process was stopped with it
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
