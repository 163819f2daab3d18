"""The web app as a user meets it: a real server on loopback, asked through gradio_client."""

from __future__ import annotations

import pytest

from tests.app_server import AppServer


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("app-data")  # empty: the app must ingest the corpus itself
    server = AppServer(data_dir, {"ALIGNCHAT_LLM": "bundled"}).start(timeout=900)
    yield server
    server.stop()


@pytest.mark.slow
def test_app_answers_with_a_citation(app):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    reply = client.predict("What is wireheading?", api_name="/ask")
    assert '<details class="sources">' in reply and "Wireheading" in reply
    assert 'href="article/wireheading?quote=' in reply  # the cited passage on the app's own page of the article
    assert "[1]" in reply
    assert "Traceback" not in reply


@pytest.mark.slow
def test_app_refuses_an_overlong_question_readably(app):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    reply = client.predict("why " * 600, api_name="/ask")
    assert 'class="notice"' in reply and "too long" in reply and "2000" in reply

