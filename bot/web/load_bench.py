"""`python -m bot.web.load_bench`: many readers asking at once, through the page's own protocol.

Starts `app.py` on a loopback port over the data dir's index and lets N simulated readers, each
with its own browser session, ask a few questions in the Chat tab at the same time (Gradio's
queue/join and event stream, exactly what the page sends). Reports per answer: wall time from
sending to the final reply (p50, p95, max), errors (a failed event, a reply that is an error
notice, no reply), and how many answers told their reader where they stood in line while the
model was busy. Prints one JSON object; `make bench` runs it for the extractive and the bundled
backends. `--startup N` times N cold starts instead: to the page served, and to the first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bot.core.paths import PROJECT_ROOT, QUESTIONS_FILE
from bot.core.settings import Settings
from bot.eval.metrics import percentile
from bot.eval.questions import load_questions

WAITING = "Waiting for the model"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data_dir: Path, llm: str, log_path: Path, timeout: float = 600) -> tuple[subprocess.Popen, str]:
    """`python app.py` on a free loopback port, once it serves its page."""
    port = _free_port()
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir), "ALIGNCHAT_LLM": llm, "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise TimeoutError(f"app.py did not serve {url} within {timeout} s; see {log_path}")


class Reader:
    """One simulated browser session asking its questions one after another."""

    def __init__(self, url: str, config: dict[str, Any], backend: str) -> None:
        ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
        self.trigger = ids["ask"]
        self.fn_index = next(d["id"] for d in config["dependencies"] if [self.trigger, "click"] in d["targets"])
        self.url, self.backend = url, backend
        self.session = uuid.uuid4().hex
        self.client = httpx.Client(timeout=httpx.Timeout(30, read=900))
        self.messages: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []

    def ask(self, question: str) -> dict[str, Any]:
        data = [question, self.messages, None, self.backend, "", "concise", 5, []]
        started = time.perf_counter()
        result: dict[str, Any] = {"question": question, "error": None, "told_place": False, "queue_rank": None}
        try:
            joined = self.client.post(self.url + "gradio_api/queue/join", json={
                "data": data, "fn_index": self.fn_index, "session_hash": self.session, "event_data": None,
                "trigger_id": self.trigger})
            joined.raise_for_status()
            with self.client.stream("GET", self.url + "gradio_api/queue/data",
                                    params={"session_hash": self.session}) as stream:
                for line in stream.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    if WAITING in line:
                        result["told_place"] = True
                    message = json.loads(line[5:])
                    if message.get("msg") == "estimation" and message.get("rank") is not None:
                        result["queue_rank"] = max(result["queue_rank"] or 0, message["rank"])  # 0: next in line
                    if message.get("msg") == "process_completed":
                        if not message.get("success"):
                            result["error"] = str(message.get("output", {}).get("error"))[:200]
                        else:
                            self.messages = message["output"]["data"][0]
                            reply = self.messages[-1]["content"] if self.messages else ""
                            if 'class="notice"' in str(reply) or not reply:
                                result["error"] = "the reply is an error notice"
                        break
                else:
                    result["error"] = "the event stream ended without a reply"
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"[:200]
        result["seconds"] = time.perf_counter() - started
        return result

    def run(self, questions: list[str]) -> None:
        for question in questions:
            self.results.append(self.ask(question))


def run(url: str, backend: str, users: int, per_user: int) -> dict[str, Any]:
    """All readers start together; each asks its questions in turn."""
    config = httpx.get(url + "config", timeout=30).json()
    pool = [item["question"] for item in load_questions(QUESTIONS_FILE)
            if item.get("answerable", True) and not item.get("history")]
    readers = [Reader(url, config, backend) for _ in range(users)]
    threads = [threading.Thread(target=r.run, args=(pool[i * per_user:(i + 1) * per_user],))
               for i, r in enumerate(readers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    results = [r for reader in readers for r in reader.results]
    seconds = [r["seconds"] for r in results if r["error"] is None]
    return {
        "llm": backend, "users": users, "questions_per_user": per_user, "answers": len(results),
        "errors": sum(r["error"] is not None for r in results),
        "error_examples": sorted({r["error"] for r in results if r["error"]})[:3],
        "answer_p50_s": round(statistics.median(seconds), 2) if seconds else None,
        "answer_p95_s": round(percentile(seconds, 95), 2) if seconds else None,
        "answer_max_s": round(max(seconds), 2) if seconds else None,
        "told_their_place_in_line": sum(r["told_place"] for r in results),
        "waited_in_gradio_queue": sum((r["queue_rank"] or 0) > 0 for r in results),
        "wall_s": round(wall, 1),
    }


def startup(data_dir: Path, llm: str, runs: int) -> dict[str, Any]:
    """Cold starts of the app: seconds from process start to the page served, and to the first
    answer of the `/ask` API (medians of `runs` starts)."""
    served, answered = [], []
    for run_number in range(runs):
        started = time.perf_counter()
        proc, url = start_app(data_dir, llm, data_dir / f"startup-bench-{run_number}.log")
        try:
            served.append(time.perf_counter() - started)
            client = httpx.Client(timeout=300)
            event = client.post(url + "gradio_api/call/ask", json={"data": ["What is wireheading?"]}).json()["event_id"]
            reply = client.get(url + f"gradio_api/call/ask/{event}").text
            if "article/wireheading?" not in reply:
                raise RuntimeError(f"the first answer cites no wireheading passage: {reply[:300]}")
            answered.append(time.perf_counter() - started)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return {"llm": llm, "starts": runs, "served_s": round(statistics.median(served), 2),
            "served_all_s": [round(s, 2) for s in served], "first_answer_s": round(statistics.median(answered), 2),
            "first_answer_all_s": [round(s, 2) for s in answered]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.web.load_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--questions", type=int, default=3, help="questions each reader asks, one after another")
    parser.add_argument("--llm", default="extractive", help="the app's backend (extractive, bundled, ...)")
    parser.add_argument("--startup", type=int, metavar="N", default=0,
                        help="instead: time N cold starts (to the page served, and to the first answer)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.questions < 1 or args.startup < 0:
        parser.error("--users and --questions must be 1 or more, --startup 0 or more")
    settings = Settings()
    if args.startup:
        print(json.dumps(startup(settings.data_dir, args.llm, args.startup)))
        return 0
    log_path = settings.data_dir / "load-bench-app.log"
    proc, url = start_app(settings.data_dir, args.llm, log_path)
    try:
        print(json.dumps(run(url, args.llm, args.users, args.questions)))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
