"""A real platform on this machine: `manage.py serve` (gunicorn + django-q2 workers) on a free
port, as a user starts it. The e2e tests and the benchmark both drive it.

It finds its own processes without parsing `ps` text: `serve` starts a new session, its children
stay in that session (each in its own process group), so the session id names every process this
platform started, whatever the checkout's path. Ready means the platform says so (`/readyz`) and
enough workers of that session have written a fresh heartbeat with their models loaded. Whatever
happens (a failed start, a failed test, Ctrl-C) `stop()` leaves no process of that session behind.
"""

import contextlib
import ctypes
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent

START_TIMEOUT = 300.0
# serve itself stops everything within 5 s (ops test); past this the harness kills the session.
STOP_TIMEOUT = 15.0
# A heartbeat older than this is a worker that died (settings.WORKER_STALE_SECONDS's default).
HEARTBEAT_FRESH = timedelta(seconds=45)
_PR_SET_PDEATHSIG = 1
# manage_many's program, run by `manage.py shell`: the commands (JSON on standard input) by
# call_command, their outputs printed as JSON on the last line.
_RUN_COMMANDS = """
import io, json, sys
from django.core.management import call_command
outputs = []
for command in json.loads(sys.stdin.read()):
    out = io.StringIO()
    call_command(*command, stdout=out)
    outputs.append(out.getvalue().strip())
print(json.dumps(outputs))
"""


class PlatformError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_pids(session: int) -> list[int]:
    """Every live process of a session (Linux /proc; `os.getsid` is the portable part)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) == session and not _zombie(int(entry)):
                pids.append(int(entry))
        except (ProcessLookupError, PermissionError):
            continue  # gone meanwhile, or not ours
    return pids


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def parent_pid(pid: int) -> int:
    """The process's parent (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _die_with_parent() -> None:
    """In the child, before exec: if the process that started the platform dies (a test run
    killed with SIGKILL), `serve` gets SIGTERM and stops its own children."""
    # Not Linux (no prctl): the harness's own stop() still applies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LivePlatform:
    """One platform: its own var directory (SQLite file, media, logs), port and environment."""

    def __init__(self, *, var_dir: Path, env: dict[str, str], port: int | None = None) -> None:
        self.var_dir = Path(var_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PLATFORM_VAR_DIR": str(self.var_dir), "PORT": str(self.port)}
        self.log_path = self.var_dir / "serve.log"
        self.process: subprocess.Popen | None = None
        self.clusters = 1
        self.tenant = ""
        self.key = ""
        # Called by stop() after the processes are gone (e.g. dropping a PostgreSQL database).
        self.cleanups: list[Callable[[], None]] = []

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def _manage_run(self, args: Sequence[str], input: str | None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            input=input,
            env=self.env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )

    def manage(self, *args: str, check: bool = True, input: str | None = None) -> str:
        done = self._manage_run(args, input)
        if check and done.returncode != 0:
            raise PlatformError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-4000:]}")
        return done.stdout.strip()

    def manage_many(self, *commands: Sequence[str]) -> list[str]:
        """Several management commands in one Django process, in order; each one's output.
        Each `manage.py` run spends a second or more starting Django, and set-ups run several
        in a row. Commands that read standard input still go through `manage`."""
        done = self._manage_run(["shell", "--command", _RUN_COMMANDS], json.dumps(commands))
        if done.returncode != 0:
            raise PlatformError(f"manage.py {commands} failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def prepare(self, *, tenant: str, name: str) -> None:
        """As `make run` does: migrate, collect the static files the server (whitenoise) serves,
        and a tenant with a key made by the operator commands."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        *_, slug, self.key = self.manage_many(
            ["migrate", "--noinput"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
            ["create_tenant", tenant, "--name", name],
            ["create_api_key", tenant, "--name", tenant],
        )
        if slug != tenant:
            raise PlatformError(f"create_tenant did not print {tenant!r}")
        self.tenant = tenant

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
        return self.log_path.read_text()[-8000:] if self.log_path.exists() else ""

    # --- processes --------------------------------------------------------------------------

    def start(self, *, workers_ready: int, model: str = "", timeout: float = START_TIMEOUT):
        """Start `serve`; return once /readyz is 200 and `workers_ready` of its workers hold
        their models (`model` among them when given). Stops everything if that never comes."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(BASE_DIR / "manage.py"), "serve", "--port", str(self.port)]
        command += ["--clusters", str(self.clusters)]
        try:
            with self.log_path.open("w") as log:
                self.process = subprocess.Popen(
                    command,
                    env=self.env,
                    cwd=BASE_DIR,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise PlatformError(f"the server exited:\n{self.log()}")
                if self.ready() and self.workers_ready(model=model) >= workers_ready:
                    return
                time.sleep(0.2)
            raise PlatformError(f"the server was not ready in {timeout:.0f} s:\n{self.log()}")
        except BaseException:  # also KeyboardInterrupt: nothing may outlive a failed start
            self.stop()
            raise

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def pids(self) -> list[int]:
        """Every process this platform started (its session), `serve` included."""
        return session_pids(self.process.pid) if self.process is not None else []

    def children(self, parents: set[int], *, named: str = "") -> set[int]:
        """The platform's processes whose parent is one of `parents` (and whose command line
        holds `named`). `serve`'s own children: `children({platform.process.pid})`."""
        return {
            pid for pid in self.pids() if parent_pid(pid) in parents and named in command_line(pid)
        }

    def workers_ready(self, *, model: str = "") -> int:
        return len(self.worker_pids(model=model))

    def worker_pids(self, *, model: str = "") -> list[int]:
        """Worker processes of this platform with a fresh heartbeat and their models loaded
        (`model` among them when given): their heartbeat rows, for the pids of its session."""
        mine = set(self.pids())
        if not mine:
            return []
        try:
            rows = self.query(
                "SELECT pid, loaded_models, last_seen FROM transcriptions_workerheartbeat "
                "WHERE hostname = %s",
                (socket.gethostname(),),
            )
        except Exception:  # not migrated, or locked for a moment: not ready yet
            return []
        fresh = datetime.now(UTC) - HEARTBEAT_FRESH
        pids = []
        for pid, models, last_seen in rows:
            models = json.loads(models) if isinstance(models, str) else models or []
            if isinstance(last_seen, str):  # SQLite
                last_seen = datetime.fromisoformat(last_seen)
            if last_seen.tzinfo is None:
                last_seen = last_seen.replace(tzinfo=UTC)
            if pid in mine and models and last_seen >= fresh and (not model or model in models):
                pids.append(pid)
        return pids

    def cpu_seconds(self) -> float:
        """CPU time used so far by every process of the platform: less sensitive than wall time
        to other load on the machine (waiting for a core costs none)."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM to `serve` (which stops its children), then SIGKILL to whatever of the
        session is left at the deadline; then the cleanups. Safe to call twice."""
        if self.process is not None:
            session = self.process.pid
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while session_pids(session) and time.monotonic() < deadline:
                self.process.poll()  # reap serve, or it stays listed as a zombie
                time.sleep(0.1)
            for pid in session_pids(session):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait()
        while self.cleanups:
            self.cleanups.pop()()

    def __enter__(self) -> "LivePlatform":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
