"""A real platform for end-to-end tests: `manage.py serve` (gunicorn + django-q2 workers) on a
free port, over its own SQLite file, as a user would start it."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
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
    clusters: int = 1
    database: str = ""

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def manage(self, *args: str, check: bool = True, input: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            input=input,
            env=self.env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the platform's own database (SQLite file or PostgreSQL); `%s` placeholders."""
        url = self.env.get("DATABASE_URL", "")
        if url.startswith("postgres"):
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                return conn.execute(sql, params).fetchall()
        with sqlite3.connect(self.var_dir / "db.sqlite3", timeout=30) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def start(self, *, workers_ready: int, timeout: float = 120) -> None:
        self.log_path = self.var_dir / "serve.log"
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "serve",
                "--port",
                port,
                "--clusters",
                str(self.clusters),
            ],
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
        pids = ",".join(str(p) for p in self.worker_pids()) or "0"
        sql = f"SELECT COUNT(*) FROM transcriptions_workerheartbeat WHERE pid IN ({pids})"
        return self.query(sql)[0][0]

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
        if self.database:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def _postgres_admin(sql: str) -> None:
    import psycopg

    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def production_like() -> bool:
    """The CI's second pass: PostgreSQL and the Redis broker from the environment."""
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


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
    platform = LivePlatform(url=f"http://127.0.0.1:{port}", var_dir=tmp_dir, env=env)
    if production_like():
        # Its own database, queue name and cache prefix: nothing shared with the test run's
        # database or with another platform on the same Redis.
        name = f"whisper_e2e_{uuid.uuid4().hex[:10]}"
        _postgres_admin(f'CREATE DATABASE "{name}"')
        platform.database = name
        env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        env["Q_CLUSTER_NAME"] = name
        env["CACHE_KEY_PREFIX"] = name
    else:
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
    platform.manage("migrate", "--noinput")
    # As `make run` does: the server (whitenoise) serves the dashboard's and docs' static files.
    platform.manage("collectstatic", "--noinput", "--verbosity", "0")
    assert platform.manage("create_tenant", platform.tenant, "--name", "E2E") == platform.tenant
    platform.key = platform.manage("create_api_key", platform.tenant, "--name", "e2e")
    return platform
