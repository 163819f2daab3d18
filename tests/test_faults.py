"""Faults a shared deployment meets, each on loopback with the real pieces: the `chroma run`
server restarting under a running app, the LLM server dying in the middle of an answer, and the
data dir's disk filling up during ingestion."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from bot.core.index import IndexStore
from bot.core.settings import Settings
from bot.web.cluster import wait_for_port
from tests.app_server import AppServer
from tests.conftest import CORPUS, free_port, run_cli
from tests.test_library_safety import ask

pytestmark = pytest.mark.slow
FEW = ("wireheading", "corrigibility", "goodharts-law")


def few_articles(folder: Path, names: tuple[str, ...] = FEW) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / f"{name}.md", folder)
    return folder


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    chroma = Path(sys.executable).parent / "chroma"
    log = open(path.parent / "chroma.log", "a")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, proc, "chroma run", 60)
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        proc.wait(timeout=30)


def test_a_restarted_chroma_server_is_reconnected_without_restarting_the_app(tmp_path):
    port = free_port()
    db = tmp_path / "chroma-db"
    url = f"http://127.0.0.1:{port}"
    env = {"ALIGNCHAT_CHROMA_URL": url, "ALIGNCHAT_LLM": "extractive"}
    server = start_chroma(db, port)
    app = None
    try:
        result = run_cli(["-m", "ingest", "--quiet", str(few_articles(tmp_path / "articles"))], tmp_path / "data", env)
        assert result.returncode == 0, result.stderr[-2000:]
        app = AppServer(tmp_path / "data", env).start()
        assert "article/wireheading?" in ask(app, "What is wireheading?")

        stop(server)
        down = ask(app, "What is corrigibility?")
        assert 'class="notice"' in down and "index server" in down and "Ask again in a moment" in down
        citation = httpx.get(app.url + "article/wireheading", timeout=30)  # a citation clicked meanwhile
        assert citation.status_code == 503 and "Try again in a moment" in citation.text

        server = start_chroma(db, port)  # the same data, the same address
        assert "article/corrigibility?" in ask(app, "What is corrigibility?")
        assert app.proc.poll() is None  # the same app process throughout
    finally:
        if app is not None:
            app.stop()
        stop(server)


def test_an_llm_server_dying_mid_answer_leaves_a_readable_answer_with_its_sources(corpus_data_dir, tmp_path):
    from bot.core.models import bundled_llm_path
    from tests.app_server import copy_data_dir

    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    model = bundled_llm_path(data_dir / "models")
    port = free_port()
    llm_log = open(tmp_path / "llm.log", "w")
    llm = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2",
                            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"],
                           stdout=llm_log, stderr=subprocess.STDOUT)
    app = None
    try:
        wait_for_port(port, llm, "the model server", 120)
        app = AppServer(data_dir, {"ALIGNCHAT_LLM": "openai:smollm2",
                                   "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}).start()
        config = httpx.get(app.url + "config", timeout=30).json()
        ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
        fn_index = next(d["id"] for d in config["dependencies"] if [ids["ask"], "click"] in d["targets"])
        session = uuid.uuid4().hex
        client = httpx.Client(timeout=httpx.Timeout(30, read=300))
        client.post(app.url + "gradio_api/queue/join", json={
            "data": ["What is wireheading?", [], None, "openai", "smollm2", "detailed", 5, []],
            "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": ids["ask"]},
        ).raise_for_status()
        killed_while_writing = False
        reply = ""
        with client.stream("GET", app.url + "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if "words drafted" in line and not killed_while_writing:
                    llm.send_signal(signal.SIGKILL)  # the server dies while it streams the answer
                    killed_while_writing = True
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                    message = json.loads(line[5:])
                    assert message["success"], message
                    reply = json.dumps(message["output"]["data"][0][-1]["content"])
                    break
        assert killed_while_writing
        assert "stopped before finishing" in reply and "stopped in the middle of the answer" in reply
        assert '<details class=\\"sources\\">' in reply and "article/wireheading?" in reply  # the sources stay
        assert "Traceback" not in reply
    finally:
        if app is not None:
            app.stop()
        stop(llm, signal.SIGKILL)
        llm_log.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB filesystem (tmpfs) to fill up; grown to 256 MiB by calling the returned function."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("filling a disk needs root to mount a small tmpfs")

    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=256m", str(mount)], check=True)

    yield mount, grow
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_ingestion_on_a_full_disk_stops_cleanly_and_a_rerun_finishes_it(small_disk, tmp_path):
    mount, grow = small_disk
    data_dir = mount / "data"
    first = few_articles(tmp_path / "first")
    result = run_cli(["-m", "ingest", "--quiet", str(first)], data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    stored = {c.chunk_id for c in IndexStore(Settings(data_dir=data_dir), create=False).all_chunks()}

    many = tmp_path / "many"
    many.mkdir()
    for article in sorted(CORPUS.glob("*.md"))[:40]:
        shutil.copy(article, many)
    full = run_cli(["-m", "ingest", "--quiet", str(many)], data_dir)
    assert full.returncode == 2
    assert "is full" in full.stderr and "run the same ingestion again" in full.stderr
    assert "Traceback" not in full.stderr

    grow()  # space freed: what was stored is still there, and the re-run completes the work
    assert stored <= {c.chunk_id for c in IndexStore(Settings(data_dir=data_dir), create=False).all_chunks()}
    again = run_cli(["-m", "ingest", "--json", str(many)], data_dir)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["failed"] == []
    articles = {a.doc_id for a in IndexStore(Settings(data_dir=data_dir), create=False).articles()}
    assert articles >= {p.stem for p in many.glob("*.md")} | set(FEW)


def damage(data_dir: Path) -> None:
    """Overwrite parts of the embedded index's database, as a failing disk or a stray write would."""
    path = data_dir / "chroma" / "chroma.sqlite3"
    data = bytearray(path.read_bytes())
    for at in range(4096, len(data), 8192):
        data[at:at + 512] = b"\x00garbage" * 64
    path.write_bytes(bytes(data))


def test_a_damaged_index_is_detected_and_a_backup_or_a_rebuild_brings_it_back(corpus_data_dir, tmp_path):
    from tests.app_server import copy_data_dir

    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    backup = tmp_path / "backup"
    assert run_cli(["-m", "ingest", "--quiet", "--backup", str(backup)], data_dir).returncode == 0
    question = ["-m", "bot", "ask", "--llm", "extractive", "--json", "What is wireheading?"]

    damage(data_dir)
    broken = run_cli(question, data_dir)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "is damaged" in broken.stderr and "--restore-backup" in broken.stderr and "--rebuild" in broken.stderr

    restored = run_cli(["-m", "ingest", "--quiet", "--restore-backup", str(backup)], data_dir)
    assert restored.returncode == 0, restored.stderr[-2000:]
    assert len(list(data_dir.glob("chroma.damaged-*"))) == 1  # kept aside, not deleted
    answered = run_cli(question, data_dir)
    assert answered.returncode == 0, answered.stderr[-2000:]
    assert any(c["doc_id"] == "wireheading" for c in json.loads(answered.stdout)["citations"])

    damage(data_dir)
    rebuilt = run_cli(["-m", "ingest", "--quiet", "--rebuild", str(few_articles(tmp_path / "articles"))], data_dir)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert len(list(data_dir.glob("chroma.damaged-*"))) == 2
    answered = run_cli(question, data_dir)
    assert answered.returncode == 0 and any(c["doc_id"] == "wireheading"
                                            for c in json.loads(answered.stdout)["citations"])
