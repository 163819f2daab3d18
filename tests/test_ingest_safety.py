"""Ingestion a user can trust: SIGKILL at any moment, re-runs, and a real Chroma server."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.core.index import IndexStore
from bot.core.settings import Settings
from tests.conftest import CORPUS, ROOT, keyword_state, run_cli

pytestmark = pytest.mark.slow


def index_state(data_dir: Path) -> tuple[set[str], dict[str, int], dict]:
    """Chunk ids, and chunk count per article, of the index in data_dir; and what its committed
    keyword index answers (as a reader opens it, with no repair)."""
    store = IndexStore(Settings(data_dir=data_dir), create=False)
    chunks = store.all_chunks()
    per_doc: dict[str, int] = {}
    for c in chunks:
        per_doc[c.metadata["doc_id"]] = per_doc.get(c.metadata["doc_id"], 0) + 1
    return {c.chunk_id for c in chunks}, per_doc, keyword_state(data_dir)


def ingest_killed_after(folder: Path, data_dir: Path, seconds: float) -> None:
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "--quiet", str(folder)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.md"))[:16]:
        shutil.copy(path, folder / path.name)
    return folder


def clean_state(folder: Path, data_dir: Path) -> tuple[set[str], dict[str, int]]:
    result = run_cli(["-m", "ingest", "--quiet", str(folder)], data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return index_state(data_dir)


def test_sigkill_at_any_moment_then_rerun_equals_a_clean_run(small_corpus, tmp_path):
    expected = clean_state(small_corpus, tmp_path / "clean")
    crashed = tmp_path / "crashed"
    rng = random.Random(7)
    # Kill points spread over start-up, chunking, embedding and writing.
    for seconds in sorted(rng.uniform(2.0, 16.0) for _ in range(6)):
        ingest_killed_after(small_corpus, crashed, seconds)
    result = run_cli(["-m", "ingest", "--json", str(small_corpus)], crashed)
    assert result.returncode == 0, result.stderr[-2000:]
    assert index_state(crashed) == expected

    # Now an update run (changed, added and removed articles) killed part-way, then repaired.
    files = sorted(small_corpus.glob("*.md"))
    for path in files[:4]:
        path.write_text(path.read_text(encoding="utf-8") + "\n\n## Addendum\n\nA new closing paragraph about reward.\n",
                        encoding="utf-8")
    for path in files[4:6]:
        path.unlink()
    shutil.copy(sorted(CORPUS.glob("*.md"))[20], small_corpus)
    expected_after = clean_state(small_corpus, tmp_path / "clean-after")
    for seconds in (3.0, 6.0, 9.0):
        ingest_killed_after(small_corpus, crashed, seconds)
    result = run_cli(["-m", "ingest", "--json", str(small_corpus)], crashed)
    assert result.returncode == 0, result.stderr[-2000:]
    assert index_state(crashed) == expected_after
    again = json.loads(run_cli(["-m", "ingest", "--json", str(small_corpus)], crashed).stdout)
    assert again["chunks_embedded"] == 0 and again["unchanged"] == len(list(small_corpus.glob("*.md")))


def test_same_article_by_two_paths_is_one(small_corpus, tmp_path):
    data = tmp_path / "data"
    link = tmp_path / "link"
    link.symlink_to(small_corpus, target_is_directory=True)
    first = json.loads(run_cli(["-m", "ingest", "--json", str(small_corpus)], data).stdout)
    second = json.loads(run_cli(["-m", "ingest", "--json", str(link)], data).stdout)
    assert second["added"] == 0 and second["chunks_embedded"] == 0
    assert second["chunks_total"] == first["chunks_total"]


def test_a_bad_edit_loses_nothing(small_corpus, tmp_path):
    data = tmp_path / "data"
    before = clean_state(small_corpus, data)
    victim = sorted(small_corpus.glob("*.md"))[0]
    victim.write_text("---\ntitle: [broken\n---\ntext", encoding="utf-8")
    result = run_cli(["-m", "ingest", "--json", str(small_corpus)], data)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [Path(f["path"]).name for f in report["failed"]] == [victim.name]
    assert report["deleted"] == 0
    assert index_state(data) == before


def test_rebuild_starts_over(small_corpus, tmp_path):
    data = tmp_path / "data"
    before = clean_state(small_corpus, data)
    report = json.loads(run_cli(["-m", "ingest", "--json", "--rebuild", str(small_corpus)], data).stdout)
    assert report["added"] == len(before[1]) and report["chunks_embedded"] == len(before[0])
    assert index_state(data) == before


def test_chroma_server_ingest_and_answer(small_corpus, tmp_path, chroma_server):
    env = {"ALIGNCHAT_CHROMA_URL": chroma_server, "ALIGNCHAT_COLLECTION": "server_test"}
    first = run_cli(["-m", "ingest", "--json", str(small_corpus)], tmp_path / "data", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads(first.stdout)
    assert report["added"] == 16 and report["chunks_total"] > 100
    assert not (tmp_path / "data" / "chroma").exists(), "nothing written to the embedded store"
    again = json.loads(run_cli(["-m", "ingest", "--json", str(small_corpus)], tmp_path / "data", env=env).stdout)
    assert again["chunks_embedded"] == 0 and again["chunks_total"] == report["chunks_total"]
    doc_id = sorted(small_corpus.glob("*.md"))[0].stem
    title = next(line for line in (small_corpus / f"{doc_id}.md").read_text().splitlines() if line.startswith("title:"))
    question = f"What is {title.split(':', 1)[1].strip().strip(chr(34))} about?"
    asked = run_cli(["-m", "bot", "ask", "--json", "--llm", "extractive", question], tmp_path / "data", env=env)
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert doc_id in [c["doc_id"] for c in json.loads(asked.stdout)["citations"]]


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    result = run_cli(["-m", "bot", "ask", "What is wireheading?"], tmp_path,
                     env={"ALIGNCHAT_CHROMA_URL": "http://127.0.0.1:9"})
    assert result.returncode == 2
    assert "Chroma server" in result.stderr and "Traceback" not in result.stderr
