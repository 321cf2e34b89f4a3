"""`make run` / `manage.py serve` stop within 5 s and leave no process behind, however they are
told to: Ctrl-C in a terminal, SIGINT or SIGTERM to the process group, SIGTERM to `serve` alone,
also while a worker is in the middle of a job."""

import fcntl
import os
import signal
import subprocess
import sys
import termios
import threading
import time

import httpx
import pytest

from tests.audio import MULTILINGUAL
from tests.platforms import make_platform
from tools.live_platform import BASE_DIR, free_port, session_pids

# `make run` is the embedded setup: these tests run it whatever the environment says.
pytestmark = [pytest.mark.e2e, pytest.mark.embedded]

STOP_LIMIT = 5.0


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One migrated embedded platform; each test starts (and stops) its own `serve` on it. Its
    workers preload only the one model a job of these tests uses, the smallest (tiny.en): each
    start is shorter by the others' loading, which no test here is about."""
    platform = make_platform(
        tmp_path_factory.mktemp("serve-stop"), WHISPER_PRELOAD_MODELS="tiny.en"
    )
    platform.env.pop("REDIS_URL", None)  # `make run` is the embedded setup
    if platform.env.pop("DATABASE_URL", None):
        # CI's second pass prepared PostgreSQL: the SQLite database needs the same.
        platform.prepare(tenant="e2e", name="E2E")
    yield platform
    platform.stop()


def wait_gone(session: int) -> float:
    """Seconds until no process of the session is left (or the limit is well past)."""
    start = time.monotonic()
    while session_pids(session) and time.monotonic() - start < 60:
        time.sleep(0.02)
    return time.monotonic() - start


def start_serve(platform) -> None:
    platform.port = free_port()
    platform.url = f"http://127.0.0.1:{platform.port}"
    platform.start(workers_ready=2)


def busy(platform) -> None:
    """A job running on a worker: the stop must not wait for it to finish."""
    with MULTILINGUAL.open("rb") as f:
        response = httpx.post(
            f"{platform.api_base}/audio/jobs",
            headers={"Authorization": f"Bearer {platform.key}"},
            files={"file": ("licence.mp3", f, "audio/mpeg")},
            data={"model": "tiny.en"},
            timeout=30,
        )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = platform.query(
            "SELECT status FROM transcriptions_job WHERE public_id = %s", (job_id,)
        )
        if rows and rows[0][0] == "running":
            return
        time.sleep(0.05)
    raise AssertionError("the job never started")


# Slow: each case starts a real `serve` (its workers load their model) to stop it: the stop
# is the subject.
@pytest.mark.parametrize(
    "how",
    ["SIGINT to the group", "SIGTERM to the group", "SIGTERM to serve", "SIGTERM while busy"],
)
def test_serve_stops_everything_in_time(prepared, how):
    start_serve(prepared)
    try:
        session = prepared.process.pid
        children = set(prepared.pids()) - {session}
        assert len(children) >= 6, "gunicorn master + worker, qcluster + sentinel + 2 workers"
        if how == "SIGTERM while busy":
            busy(prepared)
        sent = time.monotonic()
        if how == "SIGINT to the group":
            os.killpg(session, signal.SIGINT)
        elif how == "SIGTERM to the group":
            os.killpg(session, signal.SIGTERM)
        else:
            os.kill(session, signal.SIGTERM)
        prepared.process.wait(timeout=30)
        took = time.monotonic() - sent + wait_gone(session)
        assert session_pids(session) == [], "a process of serve outlived it"
        assert took < STOP_LIMIT, f"stopping took {took:.1f} s"
    finally:
        prepared.stop()


# Slow: `make run` in a terminal migrates, collects the static files and makes the demo
# tenant (each a manage.py run), then starts the whole platform (model loaded) before Ctrl-C.
def test_ctrl_c_in_a_terminal_stops_make_run(prepared):
    """The README's command in a real terminal (a pty): Ctrl-C is SIGINT to the terminal's
    foreground process group, which is make and serve; their children have groups of their own."""
    master, slave = os.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    port = free_port()
    # The Makefile's own `run` recipe, with this test's interpreter (already installed).
    bin_dir = os.path.dirname(sys.executable)
    make = subprocess.Popen(
        ["make", "-s", "run", f"PORT={port}", f"BIN={bin_dir}", "STAMP="],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=BASE_DIR,
        env=prepared.env,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    output = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    prepared.process, prepared.port = make, port
    prepared.url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while not (prepared.ready() and prepared.workers_ready() >= 2):
            assert make.poll() is None, output.decode(errors="replace")
            assert time.monotonic() < deadline, output.decode(errors="replace")
            time.sleep(0.2)
        text = output.decode(errors="replace")
        assert "Demo API key" in text and "Dashboard:" in text and "user demo" in text, text
        sent = time.monotonic()
        os.write(master, b"\x03")  # Ctrl-C
        make.wait(timeout=30)
        took = time.monotonic() - sent + wait_gone(make.pid)
        assert session_pids(make.pid) == [], "a process of make run outlived it"
        assert took < STOP_LIMIT, f"stopping took {took:.1f} s"
    finally:
        prepared.stop()
        os.close(master)
