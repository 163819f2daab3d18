"""The web app as a real subprocess on a loopback port, for the end-to-end tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port


def copy_data_dir(source: Path, target: Path) -> Path:
    """A private copy of an ingested data dir, for a test that changes the index."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("tmp", "app*.log"))
    return target


class AppServer:
    """`python app.py` with its own data dir and environment; `url` is set once / answers 200."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, name: str = "app",
                 host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.host = host  # the address it binds; the tests reach it on loopback either way
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = data_dir / f"{name}.log"
        self.env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False",
                    **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.cold_start_s = 0.0

    def start(self, timeout: float = 600) -> AppServer:
        """Start the process and wait until GET / answers 200; records the cold start time."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")
        started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "app.py", "--host", self.host, "--port", str(self.port)], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode} before serving:\n{self.log_tail()}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    self.cold_start_s = time.monotonic() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"app not serving {self.url} after {timeout} s:\n{self.log_tail()}")

    def rss_mib(self) -> float:
        """Resident memory of the app process (VmRSS from /proc), in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc status")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
