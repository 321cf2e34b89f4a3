"""Injected fault for the e2e tests: workers that are slow. Every worker process of a platform
is stopped (SIGSTOP) between two database writes and resumed (SIGCONT) on exit, so whatever a
test does meanwhile happens while its job cannot end, however loaded the machine; no long
recording has to stand in for a slow worker."""

import contextlib
import os
import signal
import sqlite3
import time

# Failure bounds, not a pace: how long the platform may take to show a state.
READY_SECONDS = 120
WRITE_SECONDS = 60


def wait_until(predicate, *, timeout: float, what: str):
    """Poll for an event (a row's state): no fixed sleep stands in for it."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: not reached in {timeout:.0f} s"
        time.sleep(0.1)
    return value


def _postgres(platform) -> bool:
    return platform.env.get("DATABASE_URL", "").startswith("postgres")


def writes_free(platform, job_id: str | None = None) -> bool:
    """Nothing holds what the server must write meanwhile: SQLite's write lock; on PostgreSQL
    the job's row, or (no job yet) no other connection to the platform's database inside a
    transaction."""
    try:
        if _postgres(platform) and job_id:
            platform.query(
                "SELECT id FROM transcriptions_job WHERE public_id = %s FOR UPDATE NOWAIT",
                (job_id,),
            )
        elif _postgres(platform):
            [(open_transactions,)] = platform.query(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            )
            return open_transactions == 0
        else:
            with sqlite3.connect(platform.var_dir / "db.sqlite3", timeout=0.2) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.rollback()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def workers_stopped(platform, *, job_id: str | None = None):
    """Stop every worker process of the platform (all it starts: `worker_processes` when the
    fixture set it) until the block ends; `job_id`: the job whose row must stay writable."""
    expected = getattr(platform, "worker_processes", 1)
    pids = wait_until(
        lambda: (found := platform.worker_pids()) and len(found) >= expected and found,
        timeout=READY_SECONDS,
        what=f"{expected} workers with a fresh heartbeat",
    )

    def signal_all(sig):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    try:
        signal_all(signal.SIGSTOP)
        deadline = time.monotonic() + WRITE_SECONDS
        while not writes_free(platform, job_id):
            assert time.monotonic() < deadline, "a write was still held after the workers ran"
            signal_all(signal.SIGCONT)  # one was stopped inside a write: let it finish it
            time.sleep(0.05)
            signal_all(signal.SIGSTOP)
        yield
    finally:
        signal_all(signal.SIGCONT)


@contextlib.contextmanager
def workers_paused(platform, slug: str):
    """Once the tenant's job runs, the workers are stopped (workers_stopped) until the block
    ends: whatever the test does meanwhile happens while the job is running."""
    [(job_id,)] = wait_until(
        lambda: platform.query(
            "SELECT j.public_id FROM transcriptions_job j JOIN accounts_tenant t "
            "ON t.id = j.tenant_id WHERE t.slug = %s AND j.status = 'running'",
            (slug,),
        ),
        timeout=READY_SECONDS,
        what="the job running on a worker",
    )
    with workers_stopped(platform, job_id=job_id):
        [(status,)] = platform.query(
            "SELECT status FROM transcriptions_job WHERE public_id = %s", (job_id,)
        )
        assert status == "running", "the job ended before the pause"
        yield
