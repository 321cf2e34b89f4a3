"""Hostile tenants against a real server with tight limits: the official SDK's retries after a
504, one tenant holding the web threads, a job deleted under its own stream."""

import concurrent.futures
import json
import time

import httpx
import openai
import pytest
from openai import OpenAI

from tests.audio import MULTILINGUAL
from tests.e2e.accounting import tenant_with_limits
from tests.live import make_platform

pytestmark = pytest.mark.e2e

WAITS_PER_TENANT = 2


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """Four web threads in one process, a 3 s synchronous wait, two waits per tenant."""
    platform = make_platform(
        tmp_path_factory.mktemp("tight"),
        WEB_THREADS="4",
        SYNC_WAIT_TIMEOUT="3",
        SYNC_WAITS_PER_TENANT=str(WAITS_PER_TENANT),
        Q_WORKERS="2",
    )
    platform.start(workers_ready=2)
    try:
        yield platform
    finally:
        platform.stop()


def jobs_of(platform, slug: str) -> list[tuple]:
    return platform.query(
        "SELECT j.public_id, j.status FROM transcriptions_job j "
        "JOIN accounts_tenant t ON t.id = j.tenant_id WHERE t.slug = %s",
        (slug,),
    )


def wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_the_sdk_does_not_retry_a_504_into_three_jobs(tight):
    """One `create()` used to make 3 jobs billed 3 times (the SDK retries 5xx twice)."""
    customer = tenant_with_limits(tight, "patient")
    client = OpenAI(base_url=tight.api_base, api_key=customer.key)  # default: 2 retries
    with MULTILINGUAL.open("rb") as f, pytest.raises(openai.InternalServerError) as caught:
        client.audio.transcriptions.create(model="whisper-1", file=f)
    assert caught.value.status_code == 504
    assert caught.value.response.headers["x-should-retry"] == "false"
    [(job_id, _)] = jobs_of(tight, customer.slug)
    assert caught.value.response.headers["x-job-id"] == job_id
    # The one job goes on, and is billed once when it ends.
    wait_for(lambda: jobs_of(tight, customer.slug)[0][1] == "succeeded", timeout=180)
    rows = tight.query(
        "SELECT u.billed_seconds FROM accounts_usagerecord u JOIN accounts_tenant t "
        "ON t.id = u.tenant_id WHERE t.slug = %s",
        (customer.slug,),
    )
    assert rows == [(60,)]


def test_one_tenant_cannot_hold_every_web_thread(tight):
    """Tenant B's waiting requests once took all 4 threads: tenant C's `GET /v1/models` took
    31.8 s. Now B gets at most its share and 429 past it; C is answered at once."""
    b = tenant_with_limits(tight, "greedy")
    c = tenant_with_limits(tight, "bystander")
    audio = MULTILINGUAL.read_bytes()

    def hold() -> httpx.Response:
        return httpx.post(
            f"{tight.api_base}/audio/transcriptions",
            headers={"Authorization": f"Bearer {b.key}"},
            files={"file": ("licence.mp3", audio, "audio/mpeg")},
            data={"model": "whisper-1"},
            timeout=60,
        )

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        held = [pool.submit(hold) for _ in range(4)]
        time.sleep(1.0)  # B's requests are in: waiting for their jobs, or refused
        started = time.monotonic()
        models = httpx.get(
            f"{tight.api_base}/models", headers={"Authorization": f"Bearer {c.key}"}, timeout=60
        )
        took = time.monotonic() - started
        statuses = sorted(f.result().status_code for f in held)
    assert models.status_code == 200
    assert took < 2.0, f"GET /v1/models took {took:.1f} s"
    refused = [f.result() for f in held if f.result().status_code == 429]
    assert len(refused) == 4 - WAITS_PER_TENANT, statuses
    for response in refused:
        assert response.json()["error"]["code"] == "rate_limit_exceeded"
        assert response.headers["Retry-After"] == "5"
    assert len(jobs_of(tight, b.slug)) == WAITS_PER_TENANT, "refused requests made no job"


def test_deleting_a_job_under_its_own_stream_ends_the_stream_cleanly(tight):
    """It used to raise Job.DoesNotExist into the stream (a traceback in the log)."""
    wait_for(lambda: not tight.query(_BUSY), timeout=180)  # earlier tests' jobs are done
    customer = tenant_with_limits(tight, "streamer")
    headers = {"Authorization": f"Bearer {customer.key}"}
    events = []
    with (
        MULTILINGUAL.open("rb") as f,
        httpx.stream(
            "POST",
            f"{tight.api_base}/audio/transcriptions",
            headers=headers,
            files={"file": ("licence.mp3", f, "audio/mpeg")},
            data={"model": "tiny.en", "stream": "true"},
            timeout=60,
        ) as response,
    ):
        assert response.status_code == 200
        job_id = response.headers["x-job-id"]  # on the wire before any text
        deleted = httpx.delete(f"{tight.api_base}/audio/jobs/{job_id}", headers=headers)
        assert deleted.status_code == 200, deleted.text
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    assert events and events[-1]["type"] == "error", events
    assert events[-1]["error"]["code"] in ("job_not_found", "job_cancelled"), events[-1]
    assert "Traceback" not in tight.log() and "DoesNotExist" not in tight.log()
    assert not jobs_of(tight, customer.slug)


_BUSY = "SELECT 1 FROM transcriptions_job WHERE status IN ('queued', 'running')"
