"""Hostile tenants against a real server with tight limits: the official SDK's retries after a
504, one tenant holding many waits, a job deleted under its own stream, clients that go away;
and waiting requests hold no thread."""

import concurrent.futures
import json
import time
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from tests.audio import JFK, MULTILINGUAL
from tests.e2e.accounting import tenant_with_limits, usage_rows
from tests.e2e.workers import workers_stopped
from tests.platforms import make_platform

pytestmark = pytest.mark.e2e

WAITS_PER_TENANT = 2
# jfk.flac lasts 11.0 s: billed per started second (billing.rounding).
JFK_BILLED = 11


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """One web process, a 3 s synchronous wait, two waits per tenant. Jobs outlast the wait
    because the tests stop the workers (workers_stopped), not because they are long."""
    platform = make_platform(
        tmp_path_factory.mktemp("tight"),
        SYNC_WAIT_TIMEOUT="3",
        SYNC_WAITS_PER_TENANT=str(WAITS_PER_TENANT),
        Q_WORKERS="2",
        INTERACTIVE_WORKERS="1",
        WHISPER_PRELOAD_MODELS="tiny.en",  # the one model the tests send: no one's subject
    )
    # Every worker process (Q_WORKERS and the one kept for clients): all are stopped.
    platform.worker_processes = 3
    platform.start(workers_ready=platform.worker_processes)
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


def post_jfk(platform, key: str, *, model: str, read_timeout: float = 60) -> httpx.Response:
    """A synchronous transcription of jfk.flac."""
    return httpx.post(
        f"{platform.api_base}/audio/transcriptions",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("jfk.flac", JFK.read_bytes(), "audio/flac")},
        data={"model": model},
        timeout=httpx.Timeout(60, read=read_timeout),
    )


def wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def cancel_left_jobs(platform, key: str, responses) -> None:
    """Cancel (DELETE) the jobs that answered 504 and go on running: what a test does not wait
    for would otherwise hold the workers, and the next test waits for them."""
    for response in responses:
        if response.status_code == 504:
            cancelled = httpx.delete(
                f"{platform.api_base}/audio/jobs/{response.headers['x-job-id']}",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert cancelled.status_code == 200, cancelled.text


# Its setup starts the module's own platform (a 3 s wait), three workers loading tiny.en.
def test_the_sdk_does_not_retry_a_504_into_three_jobs(tight):
    """One `create()` used to make 3 jobs billed 3 times (the SDK retries 5xx twice)."""
    customer = tenant_with_limits(tight, "patient")
    client = OpenAI(base_url=tight.api_base, api_key=customer.key)  # default: 2 retries
    # The workers stay stopped until create() returns: a retry would find its job unfinished.
    with (
        workers_stopped(tight),
        JFK.open("rb") as f,
        pytest.raises(openai.InternalServerError) as caught,
    ):
        client.audio.transcriptions.create(model="tiny.en", file=f)
    assert caught.value.status_code == 504
    assert caught.value.response.headers["x-should-retry"] == "false"
    [(job_id, _)] = jobs_of(tight, customer.slug)
    assert caught.value.response.headers["x-job-id"] == job_id
    # The one job goes on once the workers do, and is billed once when it ends.
    wait_for(lambda: jobs_of(tight, customer.slug)[0][1] == "succeeded", timeout=180)
    rows = tight.query(
        "SELECT u.billed_seconds FROM accounts_usagerecord u JOIN accounts_tenant t "
        "ON t.id = u.tenant_id WHERE t.slug = %s",
        (customer.slug,),
    )
    assert rows == [(JFK_BILLED,)]


def test_one_tenant_cannot_hold_unbounded_waits(tight):
    """Tenant B's waiting requests once took all 4 threads of a web process (under gthread):
    tenant C's `GET /v1/models` took 31.8 s. Now B gets at most its SYNC_WAITS_PER_TENANT and
    429 past it; C is answered at once."""
    b = tenant_with_limits(tight, "greedy")
    c = tenant_with_limits(tight, "bystander")

    def hold() -> httpx.Response:
        return post_jfk(tight, b.key, model="tiny.en")

    with workers_stopped(tight), concurrent.futures.ThreadPoolExecutor(4) as pool:
        held = [pool.submit(hold) for _ in range(4)]
        # B's requests are in: waiting for their jobs (which cannot end), or refused.
        wait_for(lambda: len(jobs_of(tight, b.slug)) + sum(f.done() for f in held) >= 4, timeout=60)
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
    cancel_left_jobs(tight, b.key, [f.result() for f in held])


def test_deleting_a_job_under_its_own_stream_ends_the_stream_cleanly(tight):
    """It used to raise Job.DoesNotExist into the stream (a traceback in the log)."""
    wait_for(lambda: not tight.query(_BUSY), timeout=DRAIN_SECONDS)  # earlier tests' jobs are done
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
# A failure bound on the earlier tests' jobs draining: those a test leaves running are
# cancelled (cancel_left_jobs), so only short chunks being decoded are left.
DRAIN_SECONDS = 420


def _web_worker_pid(platform) -> int:
    """The gunicorn worker serving the requests (WEB_CONCURRENCY=1): the one process of the
    platform whose parent is the gunicorn master."""
    mine = set(platform.pids())
    commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in mine}
    parents = {
        pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in mine
    }
    [worker] = [
        pid
        for pid in mine
        if b"gunicorn" in commands[pid] and b"gunicorn" in commands.get(parents[pid], b"")
    ]
    return worker


def _threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


# Slow: eight manage.py runs make the four tenants (a Django start
# each), then eight waits held while the workers are stopped, and the drain after them.
def test_waiting_requests_hold_no_thread_of_the_web_process(tight):
    """Each synchronous request once held a thread of the web process while its job ran;
    now the wait is a coroutine: 8 requests waiting at once add no thread."""
    wait_for(lambda: not tight.query(_BUSY), timeout=DRAIN_SECONDS)
    web = _web_worker_pid(tight)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # each is two manage.py runs
        customers = list(pool.map(lambda i: tenant_with_limits(tight, f"waiter{i}"), range(4)))
    idle = _threads(web)

    def wait(customer) -> httpx.Response:
        return post_jfk(tight, customer.key, model="tiny.en")

    with workers_stopped(tight), concurrent.futures.ThreadPoolExecutor(8) as pool:
        held = [pool.submit(wait, c) for c in customers for _ in range(WAITS_PER_TENANT)]
        wait_for(
            lambda: (
                len(
                    tight.query(
                        "SELECT 1 FROM transcriptions_job WHERE status IN ('queued', 'running')"
                    )
                )
                >= 8
            ),
            timeout=30,
        )
        time.sleep(0.5)
        during = _threads(web)
        statuses = [f.result().status_code for f in held]
    for index, customer in enumerate(customers):
        mine = held[index * WAITS_PER_TENANT : (index + 1) * WAITS_PER_TENANT]
        cancel_left_jobs(tight, customer.key, [f.result() for f in mine])
    assert statuses == [504] * 8  # SYNC_WAIT_TIMEOUT: they were all still waiting
    # At most the waits' read pool (ops.threads, 4 threads), however many requests wait:
    # before, it was one more thread per waiting request (idle + 8).
    assert during <= idle + 4, (idle, during)


# Slow: the job the client left must run to its end once the workers
# go on, to show it is billed once (the subject), after the drain of the tests before.
def test_a_client_that_goes_away_ends_its_wait_and_is_billed_once(tight):
    """A synchronous request whose client went away kept waiting (and kept its share of
    SYNC_WAITS_PER_TENANT) until its job ended or the wait timed out. Now the wait ends with
    the connection; the job goes on and is billed once, through the request's row (499)."""
    wait_for(lambda: not tight.query(_BUSY), timeout=DRAIN_SECONDS)
    customer = tenant_with_limits(tight, "leaver")

    def post(read_timeout: float) -> httpx.Response:
        return post_jfk(tight, customer.key, model="tiny.en", read_timeout=read_timeout)

    def leave() -> None:
        # Once its job exists (the upload is probed and stored first) and well inside the 3 s
        # wait, which the stopped workers cannot end.
        with pytest.raises(httpx.ReadTimeout):  # httpx closes the connection
            post(read_timeout=2.0)

    with workers_stopped(tight):  # no job can end: each wait ends with its connection
        with concurrent.futures.ThreadPoolExecutor(WAITS_PER_TENANT) as pool:
            for left in [pool.submit(leave) for _ in range(WAITS_PER_TENANT)]:
                left.result()
        # The server saw both leave: their rows say 499 (written once the wait freed its slot).
        wait_for(
            lambda: (
                [row[1] for row in usage_rows(tight, customer.key)].count(499) == WAITS_PER_TENANT
            ),
            timeout=30,
        )
        # Still inside the others' 3 s wait: their slots would be taken, and this refused (429).
        third = post(read_timeout=60)
        assert third.status_code == 504, third.text
        assert len(jobs_of(tight, customer.slug)) == WAITS_PER_TENANT + 1
    wait_for(lambda: all(s == "succeeded" for _, s in jobs_of(tight, customer.slug)), 180)
    endpoint = "/v1/audio/transcriptions"
    expected = [(endpoint, 499, "client_closed_request", JFK_BILLED)] * WAITS_PER_TENANT
    expected.append((endpoint, 504, "timeout", JFK_BILLED))
    # Sorted as text: a row the job's submission wrote has no status until its answer is sent
    # (None, which does not compare with a number).
    wait_for(
        lambda: sorted(usage_rows(tight, customer.key), key=repr) == sorted(expected, key=repr), 30
    )
