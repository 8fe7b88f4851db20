"""Starting a real `whisklet serve` for end-to-end tests and benchmarks, as a user would from the README."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
WHISKLET = REPO / ".venv" / "bin" / "whisklet"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServedWhisklet:
    """A `whisklet serve` process on 127.0.0.1 with its own data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)  # more `whisklet serve` flags, e.g. ["--store", url]
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)
    auth: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> ServedWhisklet:
        self.output.clear()
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.process = subprocess.Popen(
            [str(WHISKLET), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(timeout_s):
            self.kill()
            raise RuntimeError("whisklet serve did not get ready:\n" + "".join(self.output))
        if self.process.poll() is not None:
            raise RuntimeError("whisklet serve exited:\n" + "".join(self.output))
        props = (self.data_dir / "wskprops").read_text()
        uuid, key = re.search(r"^AUTH=(.+)$", props, re.M).group(1).split(":")
        self.auth = (uuid, key)
        return self

    def _read(self, ready: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("whisklet ready on"):
                ready.set()
        ready.set()

    def client(self, timeout_s: float = 90.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=timeout_s)

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def sandbox_names(data_dir: Path) -> list[str]:
    """Names of the sandboxes, running or not, of the Whisklet that owns `data_dir`, whichever driver made them.

    The Docker driver labels its containers `whisklet.sandbox=<scope>`, the scope derived from its run
    directory; the namespace driver gives each sandbox a cgroup `whisklet/<scope>/<name>`, the scope
    derived from the data directory (pool/sandbox/namespace/cgroups.py), which lives until it is destroyed.
    """
    names: list[str] = []
    if shutil.which("docker"):
        scope = hashlib.sha256(os.path.abspath(data_dir / "run").encode()).hexdigest()[:16]
        done = subprocess.run(
            ["docker", "ps", "-a", "--filter", f"label=whisklet.sandbox={scope}", "--format", "{{.Names}}"],
            capture_output=True, text=True,
        )
        names += done.stdout.split()
    scope = hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]
    for parent in (Path("/sys/fs/cgroup/pids/whisklet") / scope, Path("/sys/fs/cgroup/whisklet") / scope):
        if parent.is_dir():
            names += sorted(entry.name for entry in parent.iterdir() if entry.is_dir())
    return names


def sandbox_host_dirs(data_dir: Path) -> list[Path]:
    """The host directories (`/run/whisklet` inside) of the sandboxes of the Whisklet that owns `data_dir`:
    the Docker driver's under the data directory's `run/`, the namespace driver's under
    `/var/lib/whisklet/<scope>/run/` (pool/sandbox/namespace/host.py)."""
    scope = hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]
    roots = (data_dir / "run", Path("/var/lib/whisklet") / scope / "run")
    return [entry for root in roots for entry in sorted(root.glob("whisklet-*")) if entry.is_dir()]


def docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def wait_until(condition, timeout_s: float = 30.0, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()
