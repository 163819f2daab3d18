"""Visitors cannot damage the library, and nothing removed is lost: roles enforced on the
server (driven through Gradio's own protocol, as a script would), the trash, the audit log, and
backups taken and restored while the app runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from bot.core.index import IndexStore
from bot.core.settings import Settings
from tests.app_server import AppServer, copy_data_dir
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow

NEW_ARTICLE = """---
title: Quokka alignment drills
authors: [Test Author]
date: 2026-01-01
tags: [testing]
summary: A made-up practice routine used only by the backup tests.
---

Quokka alignment drills are a made-up practice routine: a team writes down what its model should
refuse, then checks each refusal against a written rubric before any release.
"""


def chunk_ids(data_dir: Path) -> set[str]:
    return {c.chunk_id for c in IndexStore(Settings(data_dir=data_dir), create=False).all_chunks()}


def cli_ok(args: list[str], data_dir: Path) -> str:
    result = run_cli(["-m", "ingest", *args], data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def ask(app: AppServer, question: str, client: httpx.Client | None = None) -> str:
    """The `/ask` endpoint through Gradio's HTTP protocol: the answer's HTML."""
    client = client or httpx.Client(timeout=120)
    event = client.post(app.url + "gradio_api/call/ask", json={"data": [question]}).json()["event_id"]
    body = client.get(app.url + f"gradio_api/call/ask/{event}").text
    data = [line[len("data: "):] for line in body.splitlines() if line.startswith("data: ")]
    return json.loads(data[-1])[0]


def _run(client: httpx.Client, url: str, session: str, fn_index: int, trigger: int, data: list) -> list:
    """One event through Gradio's queue, as the page sends it: join, then read the event stream."""
    joined = client.post(url + "gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                         "session_hash": session, "event_data": None, "trigger_id": trigger})
    assert joined.status_code == 200, joined.text
    with client.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message["success"], message
                    return message["output"]["data"]
    raise AssertionError("the event stream ended without a result")


def call_event(client: httpx.Client, url: str, elem_id: str, data: list) -> list:
    """Trigger the click handler of the component with this elem_id exactly as the page does
    (the page's load events first, in the same session, then queue/join by fn_index): hiding a
    button is no permission."""
    config = client.get(url + "config").json()
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    session = uuid.uuid4().hex
    listing = ids["library-remove-choice"]  # the Library tab's load fills the article and trash lists
    load = next(d for d in config["dependencies"] if d["targets"][0][1] == "load" and listing in d["outputs"])
    _run(client, url, session, load["id"], load["targets"][0][0], ["", "Title (A–Z)"])
    fn_index = next(d["id"] for d in config["dependencies"] if [ids[elem_id], "click"] in d["targets"])
    return _run(client, url, session, fn_index, ids[elem_id], data)


def log_in(url: str, user: str, password: str) -> httpx.Client:
    client = httpx.Client(timeout=120)
    response = client.post(url + "login", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return client


def test_trash_restores_an_article_exactly_and_the_audit_log_says_who(corpus_data_dir, tmp_path):
    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    store = IndexStore(Settings(data_dir=data_dir), create=False)
    before = store.records_of("wireheading")
    assert before.ids

    assert "Moved wireheading" in cli_ok(["--remove", "wireheading"], data_dir)
    assert not IndexStore(Settings(data_dir=data_dir), create=False).records_of("wireheading").ids
    listed = json.loads(cli_ok(["--trash", "--json"], data_dir))
    assert [t["doc_id"] for t in listed] == ["wireheading"] and listed[0]["chunks"] == len(before.ids)
    assert listed[0]["removed_by"].endswith("(command line)")

    assert "Restored wireheading" in cli_ok(["--restore", "wireheading"], data_dir)
    after = IndexStore(Settings(data_dir=data_dir), create=False).records_of("wireheading")
    order = np.argsort(after.ids)
    expected = np.argsort(before.ids)
    assert sorted(after.ids) == sorted(before.ids)
    assert [after.documents[i] for i in order] == [before.documents[i] for i in expected]
    assert np.array_equal(after.vectors[order], before.vectors[expected])  # not re-embedded: the same vectors
    assert json.loads(cli_ok(["--trash", "--json"], data_dir)) == []

    again = run_cli(["-m", "ingest", "--restore", "wireheading"], data_dir)
    assert again.returncode == 2 and "not in the trash" in again.stderr
    missing = run_cli(["-m", "ingest", "--remove", "no-such-article"], data_dir)
    assert missing.returncode == 2 and "not in the library" in missing.stderr

    audit = json.loads(cli_ok(["--audit", "--json"], data_dir))
    assert [(e["action"], e["doc_id"]) for e in audit[-2:]] == [("remove", "wireheading"), ("restore", "wireheading")]
    assert all(e["user"].endswith("(command line)") and e["time"] for e in audit[-2:])


def test_an_article_gone_from_a_reingested_folder_waits_in_the_trash(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "quokka.md").write_text(NEW_ARTICLE, encoding="utf-8")
    (folder / "second.md").write_text(NEW_ARTICLE.replace("Quokka alignment drills", "Wombat review boards"),
                                      encoding="utf-8")
    data_dir = tmp_path / "data"
    cli_ok(["--quiet", str(folder)], data_dir)
    (folder / "second.md").unlink()
    report = json.loads(cli_ok(["--json", str(folder)], data_dir))
    assert report["deleted"] == 1
    trashed = json.loads(cli_ok(["--trash", "--json"], data_dir))
    assert [t["title"] for t in trashed] == ["Wombat review boards"]
    cli_ok(["--restore", trashed[0]["doc_id"]], data_dir)
    titles = {c.metadata["title"] for c in IndexStore(Settings(data_dir=data_dir), create=False).all_chunks()}
    assert titles == {"Quokka alignment drills", "Wombat review boards"}


def test_backup_and_restore_while_the_app_runs(corpus_data_dir, tmp_path):
    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    original = chunk_ids(data_dir)
    app = AppServer(data_dir, {"ALIGNCHAT_LLM": "extractive"}).start()
    try:
        assert "article/wireheading?" in ask(app, "What is wireheading?")
        backup_dir = tmp_path / "backup"
        assert "Backed up" in cli_ok(["--backup", str(backup_dir)], data_dir)
        refused = run_cli(["-m", "ingest", "--backup", str(backup_dir)], data_dir)
        assert refused.returncode == 2 and "not empty" in refused.stderr  # a backup is never overwritten

        # The library changes from the command line; the running app answers from the new state.
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "quokka.md").write_text(NEW_ARTICLE, encoding="utf-8")
        cli_ok(["--quiet", str(extra)], data_dir)
        cli_ok(["--remove", "wireheading"], data_dir)
        assert "Quokka" in ask(app, "What are quokka alignment drills?")
        assert "article/wireheading?" not in ask(app, "What is wireheading?")

        # A backup taken while an ingestion runs holds all of it or none of it.
        more = tmp_path / "more"
        more.mkdir()
        for name in ("goodharts-law", "mesa-optimization", "corrigibility"):
            source = ROOT / "corpus" / "articles" / f"{name}.md"
            text = source.read_text(encoding="utf-8").replace(f"id: {name}", f"id: {name}-copy", 1)
            (more / f"{name}-copy.md").write_text(text.replace('title: "', 'title: "Copy of ', 1), encoding="utf-8")
        state_before = chunk_ids(data_dir)
        env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir)}
        ingesting = subprocess.Popen([sys.executable, "-m", "ingest", "--quiet", str(more)], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        during = tmp_path / "during"
        cli_ok(["--quiet", "--backup", str(during)], data_dir)
        assert ingesting.wait(timeout=600) == 0, ingesting.stderr.read()
        state_after = chunk_ids(data_dir)
        assert state_after > state_before
        backed_up = {json.loads(line)["id"] for line in (during / "chunks.jsonl").read_text().splitlines()}
        assert backed_up in (state_before, state_after)

        restored = json.loads(cli_ok(["--json", "--restore-backup", str(backup_dir)], data_dir))
        assert chunk_ids(data_dir) == original
        safety = Path(restored["message"].rsplit(" in ", 1)[1].rstrip("."))
        assert safety.parent == data_dir.resolve() / "backups"
        saved = {json.loads(line)["id"] for line in (safety / "chunks.jsonl").read_text().splitlines()}
        assert saved == state_after  # the replaced state is kept, not lost
        assert "article/wireheading?" in ask(app, "What is wireheading?")
        assert "Quokka" not in ask(app, "What are quokka alignment drills?")
        actions = [e["action"] for e in json.loads(cli_ok(["--audit", "100", "--json"], data_dir))]
        assert actions[-1] == "restore-backup" and {"backup", "ingest", "remove"} <= set(actions)
    finally:
        app.stop()


def test_readers_are_refused_on_the_server_and_editors_are_not(corpus_data_dir, tmp_path):
    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    app = AppServer(data_dir, {"ALIGNCHAT_LLM": "extractive", "ALIGNCHAT_AUTH": "alice:pw-a,bob:pw-b",
                               "ALIGNCHAT_EDITORS": "alice"}).start()
    try:
        bob = log_in(app.url, "bob", "pw-b")
        summary = call_event(bob, app.url, "library-remove", ["wireheading", "", "Title (A–Z)"])[0]
        assert "Only editors can remove articles" in summary and "bob" in summary
        assert bob.get(app.url + "article/wireheading").status_code == 200  # still there
        status = call_event(bob, app.url, "eval-run", [None, 0, True, "extractive", "", "concise", 5])[0]
        assert "Only editors can run evaluations" in status
        assert not (data_dir / "evals").exists()

        alice = log_in(app.url, "alice", "pw-a")
        summary = call_event(alice, app.url, "library-remove", ["wireheading", "", "Title (A–Z)"])[0]
        assert "Moved wireheading" in summary
        assert alice.get(app.url + "article/wireheading").status_code == 404
        audit = [json.loads(line) for line in (data_dir / "audit.jsonl").read_text().splitlines()]
        assert (audit[-1]["action"], audit[-1]["user"]) == ("remove", "alice")
        summary = call_event(bob, app.url, "library-restore", ["wireheading", "", "Title (A–Z)"])[0]
        assert "Only editors can restore articles" in summary
    finally:
        app.stop()

    shared = AppServer(data_dir, {"ALIGNCHAT_LLM": "extractive"}, name="shared", host="0.0.0.0").start()
    try:
        visitor = httpx.Client(timeout=120)
        summary = call_event(visitor, shared.url, "library-restore", ["wireheading", "", "Title (A–Z)"])[0]
        assert "shared without a login" in summary and "ALIGNCHAT_AUTH" in summary
        assert json.loads(cli_ok(["--trash", "--json"], data_dir))[0]["doc_id"] == "wireheading"
        assert "<details" in ask(shared, "What is reward hacking?")  # reading still works
    finally:
        shared.stop()
