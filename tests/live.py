"""A real platform for end-to-end tests: `manage.py serve` (gunicorn + django-q2 workers) on a
free port, over its own SQLite file, as a user would start it."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from config.settings.base import BASE_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LivePlatform:
    url: str
    var_dir: Path
    env: dict[str, str]
    tenant: str = "e2e"
    key: str = ""
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def manage(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            env=self.env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.var_dir / "db.sqlite3", timeout=30)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def start(self, *, workers_ready: int, timeout: float = 120) -> None:
        self.log_path = self.var_dir / "serve.log"
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "serve", "--port", port],
            env=self.env,
            cwd=BASE_DIR,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log()}")
            if self._healthy() and self.workers_alive() >= workers_ready:
                return
            time.sleep(0.2)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def workers_alive(self) -> int:
        """Worker processes that have loaded their models since this server started."""
        with self.db() as conn:
            return conn.execute(
                "SELECT COUNT(*) FROM transcriptions_workerheartbeat WHERE pid IN "
                f"({','.join(str(p) for p in self.worker_pids()) or '0'})"
            ).fetchone()[0]

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        out = subprocess.run(
            ["ps", "-o", "pid=,args=", "--ppid", ",".join(self._descendants())],
            capture_output=True,
            text=True,
        ).stdout
        return [int(line.split()[0]) for line in out.splitlines() if "qcluster" in line]

    def _descendants(self) -> list[str]:
        pids, frontier = [], [str(self.process.pid)]
        while frontier:
            pid = frontier.pop()
            pids.append(pid)
            out = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout
            frontier.extend(out.split())
        return pids

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def make_platform(tmp_dir: Path, **env_overrides: str) -> LivePlatform:
    """Migrate a fresh database, create a tenant and key with the operator commands."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "PLATFORM_VAR_DIR": str(tmp_dir),
        "WHISPER_CACHE_DIR": str(BASE_DIR / "var" / "models"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        **env_overrides,
    }
    env.pop("DATABASE_URL", None) if "DATABASE_URL" not in env_overrides else None
    platform = LivePlatform(url=f"http://127.0.0.1:{port}", var_dir=tmp_dir, env=env)
    platform.manage("migrate", "--noinput")
    assert platform.manage("create_tenant", platform.tenant, "--name", "E2E") == platform.tenant
    platform.key = platform.manage("create_api_key", platform.tenant, "--name", "e2e")
    return platform
