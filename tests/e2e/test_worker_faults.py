"""A worker killed with SIGKILL mid-job loses no job: the job is retried on a fresh worker and
ends done, never stuck in `running`."""

import os
import signal
import time

import httpx
import pytest

from billing.rounding import billed_seconds
from tests.audio import long_speech_samples
from tests.e2e.accounting import long_job_submit

pytestmark = pytest.mark.e2e


def wait_for(predicate, *, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def quota(platform) -> tuple[int, int]:
    rows = platform.query(
        "SELECT q.used_seconds, q.reserved_seconds FROM accounts_quotaperiod q "
        "JOIN accounts_tenant t ON t.id = q.tenant_id WHERE t.slug = %s",
        (platform.tenant,),
    )
    return rows[0] if rows else (0, 0)


# Slow: a 74 s file's job (three chunks of English speech) is killed mid-decode, its worker
# replaced (loading its models), and the chunk run again to its end. Not multilingual.mp3: its
# German half, decoded as the English the file starts in, is decoded again stretch by stretch.
def test_sigkill_mid_job_is_retried_to_completion(platform_server):
    headers = {"Authorization": f"Bearer {platform_server.key}"}
    wait_for(lambda: quota(platform_server)[1] == 0, timeout=60)  # other tests' jobs settled
    used_before, _ = quota(platform_server)
    job_id = long_job_submit(platform_server, platform_server.key, model="whisper-1")

    def job():
        return httpx.get(f"{platform_server.api_base}/audio/jobs/{job_id}", headers=headers).json()

    # Kill the worker once it has produced at least one segment: truly mid-job.
    wait_for(lambda: job()["status"] == "running" and job()["progress"] > 0, timeout=60)
    # The worker of one of its chunks (the file is cut into several) that is running now.
    worker, index = wait_for(
        lambda: platform_server.query(
            'SELECT c.worker, c."index" FROM transcriptions_chunk c JOIN transcriptions_job j'
            " ON j.id = c.job_id WHERE j.public_id = %s AND c.status = 'running' LIMIT 1",
            (job_id,),
        ),
        timeout=60,
    )[0]
    pid = int(worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)

    final = wait_for(
        lambda: (j := job())["status"] in ("succeeded", "failed", "cancelled") and j,
        timeout=180,
        interval=0.5,
    )
    assert final["status"] == "succeeded", final
    assert final["attempts"] == 2
    assert "software" in final["result"]["text"].lower()
    seconds = billed_seconds(len(long_speech_samples()) / 16000)
    assert final["usage"] == {"type": "duration", "seconds": seconds}
    [(worker_after,)] = platform_server.query(
        "SELECT worker FROM transcriptions_job WHERE public_id = %s", (job_id,)
    )
    assert worker_after != worker, "the retry ran on another (fresh) worker process"
    # Only the killed worker's chunk ran twice.
    attempts = dict(
        platform_server.query(
            'SELECT c."index", c.attempts FROM transcriptions_chunk c JOIN transcriptions_job j'
            " ON j.id = c.job_id WHERE j.public_id = %s",
            (job_id,),
        )
    )
    assert attempts[index] == 2 and len(attempts) > 1
    assert all(n == 1 for i, n in attempts.items() if i != index), attempts

    # Billed once, for the real duration: nothing left reserved, nothing charged twice.
    used, reserved = quota(platform_server)
    assert (used - used_before, reserved) == (seconds, 0)
    [(billed,)] = platform_server.query(
        "SELECT SUM(billed_seconds) FROM accounts_usagerecord WHERE job_id = %s", (job_id,)
    )
    assert billed == seconds
