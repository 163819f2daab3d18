"""The web app as a user meets it: a real server on loopback, asked through gradio_client."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, free_port, wait_for_port


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("app-data")  # empty: the app must ingest the corpus itself
    port = free_port()
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir), "ALIGNCHAT_LLM": "bundled"}
    log = open(data_dir / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, timeout=600)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_app_answers_with_a_citation(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    reply = client.predict("What is wireheading?", api_name="/ask")
    assert "<details>" in reply and "Wireheading" in reply
    assert 'href="#source-1"' in reply or 'href="http' in reply
    assert "[1]" in reply
