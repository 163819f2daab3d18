"""`python -m bot.web.cluster --apps N`: the scale-out setup on one machine, from real servers.

One `chroma run` server holds the vector index; one `llama_cpp.server` serves the bundled model
behind an OpenAI-compatible API (or `--llm extractive`, no model); N app processes answer on
consecutive ports. They share the data dir, which holds the keyword index (memory-mapped by each
process, written by whichever process ingests, under the data dir's write lock) and the version
stamp that tells the others to reload. An article added in one app is answered by every other
app at its next question. For several machines, put the data dir on storage they all mount and
point ALIGNCHAT_CHROMA_URL at one server (see the README). Ctrl-C stops every process.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bot.core.paths import CORPUS_DIR, PROJECT_ROOT
from bot.core.settings import Settings

log = logging.getLogger("bot.web.cluster")


class NotListening(RuntimeError):
    """A server process that exited, or did not open its port in time."""


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float) -> None:
    """Return once something listens on the loopback `port`; fail early if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotListening(f"{what} exited with {proc.returncode} before listening on port {port}; see its log")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise NotListening(f"{what} is not listening on port {port} after {timeout:.0f} s; see its log")


class Cluster:
    """The processes started, stopped together (the last started first)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.logs = data_dir / "cluster-logs"
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], port: int, env: dict[str, str], timeout: float) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "w") as out:
            proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        wait_for_port(port, proc, name, timeout)
        log.info("%s is up on port %d (log: %s)", name, port, self.logs / f"{name}.log")

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop; killing it", name)
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.web.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--port", type=int, default=7860, help="first app's port; the others follow (default 7860)")
    parser.add_argument("--app-ports", type=lambda v: [int(p) for p in v.split(",")], metavar="P1,P2,...",
                        help="the apps' ports, one each (instead of --apps and --port)")
    parser.add_argument("--host", default="127.0.0.1", help="address the apps bind (default 127.0.0.1)")
    parser.add_argument("--chroma-port", type=int, default=8000, help="the `chroma run` server's port (default 8000)")
    parser.add_argument("--llm-port", type=int, default=8080, help="the model server's port (default 8080)")
    parser.add_argument("--llm", choices=("bundled", "extractive"), default="bundled",
                        help="serve the bundled model behind an OpenAI-compatible API, or answer without a model")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR,
                        help="articles ingested into the server first, incrementally (default: the bundled library)")
    args = parser.parse_args(argv)
    ports = args.app_ports or [args.port + i for i in range(args.apps)]
    if not ports or min(ports) < 1:
        parser.error("--apps must be 1 or more, and every port a positive number")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings()
    cluster = Cluster(settings.data_dir)
    chroma_url = f"http://127.0.0.1:{args.chroma_port}"
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(settings.data_dir), "ALIGNCHAT_CHROMA_URL": chroma_url}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on `kill` as on Ctrl-C
    try:
        chroma = Path(sys.executable).parent / "chroma"
        cluster.start("chroma", [str(chroma), "run", "--path", str(settings.data_dir / "chroma-server"),
                                 "--host", "127.0.0.1", "--port", str(args.chroma_port)], args.chroma_port, env, 60)
        if args.llm == "bundled":
            from bot.core.models import bundled_llm_path

            model = bundled_llm_path(settings.models_dir)
            cluster.start("llm", [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias",
                                  "smollm2", "--host", "127.0.0.1", "--port", str(args.llm_port), "--n_ctx", "4096"],
                          args.llm_port, env, 120)
            env.update({"ALIGNCHAT_LLM": "openai:smollm2", "OPENAI_BASE_URL": f"http://127.0.0.1:{args.llm_port}/v1",
                        "OPENAI_API_KEY": "local"})
        else:
            env["ALIGNCHAT_LLM"] = "extractive"
        ingested = subprocess.run([sys.executable, "-m", "ingest", "--quiet", "--no-prune", str(args.corpus)],
                                  cwd=PROJECT_ROOT, env=env)
        if ingested.returncode not in (0, 1):  # 1: some files failed, and were reported
            raise SystemExit(f"ingesting {args.corpus} into the server failed")
        for i, port in enumerate(ports):
            cluster.start(f"app-{i + 1}", [sys.executable, "app.py", "--host", args.host, "--port", str(port)],
                          port, {**env, "GRADIO_ANALYTICS_ENABLED": "False"}, 300)
            log.info("app %d: http://%s:%d/", i + 1, "127.0.0.1" if args.host == "0.0.0.0" else args.host, port)
        log.info("all up; Ctrl-C stops everything")
        while all(proc.poll() is None for _, proc in cluster.procs):
            time.sleep(1)
        stopped = next(name for name, proc in cluster.procs if proc.poll() is not None)
        log.error("%s stopped; stopping the rest (its log: %s)", stopped, cluster.logs / f"{stopped}.log")
        return 1
    except KeyboardInterrupt:
        return 0
    except NotListening as exc:
        log.error("%s", exc)
        return 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
