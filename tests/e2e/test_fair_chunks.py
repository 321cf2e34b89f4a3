"""Chunks on a real platform with two qcluster processes, as several machines would run it
(each with one worker for batch work and one more kept for requests with a client waiting): a
long file's chunks run on both, text streams in order, and another tenant's request is neither
held behind one tenant's batch nor waits for its running chunks to end."""

import statistics
import time
from datetime import datetime

import httpx
import openai
import pytest

from tests.audio import JFK, long_speech_flac, words
from tests.e2e.accounting import long_job_submit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_clusters(tmp_path_factory):
    from tests.platforms import make_platform

    platform = make_platform(
        tmp_path_factory.mktemp("two-clusters"),
        Q_WORKERS="1",
        WHISPER_PRELOAD_MODELS="tiny.en",
    )
    platform.clusters = 2
    platform.start(workers_ready=2, model="tiny.en")
    try:
        # No plan limit on concurrent jobs gets in the way here.
        _, platform.other_key, *_ = platform.manage_many(
            ["create_tenant", "other", "--name", "Other"],
            ["create_api_key", "other", "--name", "other"],
            *(["set_tenant_limits", slug, "--concurrent-jobs", "100"] for slug in ("e2e", "other")),
        )
        yield platform
    finally:
        platform.stop()


def client(platform, key) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=platform.api_base, max_retries=0, timeout=300)


def chunk_rows(platform, job_id: str) -> list[tuple]:
    return platform.query(
        'SELECT c."index", c.worker, c.started_at, c.status FROM transcriptions_chunk c'
        ' JOIN transcriptions_job j ON j.id = c.job_id WHERE j.public_id = %s ORDER BY c."index"',
        (job_id,),
    )


def latest_job_id(platform) -> str:
    [(job_id,)] = platform.query(
        "SELECT public_id FROM transcriptions_job ORDER BY id DESC LIMIT 1"
    )
    return job_id


# Slow: 74 s of real speech in three or more chunks (at most 30 s each) on two clusters, twice
# (streamed, then not: the subject); the module's own two-cluster platform starts in its setup.
def test_a_long_file_runs_on_both_clusters_and_streams_in_order(two_clusters):
    sdk = client(two_clusters, two_clusters.key)
    stream = sdk.audio.transcriptions.create(
        model="tiny.en", file=("long.flac", long_speech_flac()), stream=True
    )
    deltas, done = [], None
    for event in stream:
        if event.type == "transcript.text.delta":
            deltas.append(event.delta)
        elif event.type == "transcript.text.done":
            done = event
    assert done is not None and len(deltas) >= 2
    # Every delta extends the text in order: together they are the final text.
    assert "".join(deltas).strip() == done.text
    assert done.usage.seconds == 73
    rows = chunk_rows(two_clusters, latest_job_id(two_clusters))
    assert len(rows) >= 3 and {status for *_, status in rows} == {"done"}
    assert len({worker for _, worker, _, _ in rows}) >= 2, "several worker processes took chunks"

    # The same file without streaming reads the same.
    text = sdk.audio.transcriptions.create(model="tiny.en", file=("long.flac", long_speech_flac()))
    assert words(text.text) == words(done.text)


# Slow: a backlog of long files' chunks must be queued and running for the other tenant's
# request to overtake it, and each of its jobs must end to show it is billed its own 73 s.
def test_another_tenants_request_goes_before_a_queued_batch(two_clusters):
    headers = {"Authorization": f"Bearer {two_clusters.key}"}
    batch = []
    for _ in range(4):  # 4 jobs of 3 chunks on 2 workers: a backlog of about 10 chunks
        batch.append(long_job_submit(two_clusters, two_clusters.key, model="tiny.en"))
    # Wait until the batch has been cut into its chunks and fills both workers.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        [(queued,)] = two_clusters.query(
            "SELECT COUNT(*) FROM transcriptions_chunk WHERE status = 'queued'"
        )
        if queued >= 4:
            break
        time.sleep(0.1)
    assert queued >= 4, "the batch never queued chunks behind its running ones"

    # The request starts while both clusters decode the batch (their one place for batch work
    # each is taken): a worker kept for clients takes it at once. A batch chunk may end just
    # as the request starts, so it is tried up to three times.
    for _attempt in range(3):
        started = time.monotonic()
        with JFK.open("rb") as f:
            other = client(two_clusters, two_clusters.other_key).audio.transcriptions.create(
                model="tiny.en", file=f
            )
        waited = time.monotonic() - started
        assert "country" in other.text
        other_job = latest_job_id(two_clusters)
        [(_, _, other_start, _)] = chunk_rows(two_clusters, other_job)
        [(running_then,)] = two_clusters.query(
            "SELECT COUNT(*) FROM transcriptions_chunk c JOIN transcriptions_job j"
            " ON j.id = c.job_id WHERE j.public_id IN (%s, %s, %s, %s) AND c.started_at < %s"
            " AND (c.finished_at IS NULL OR c.finished_at > %s)",  # NULL: running still
            (*batch, other_start, other_start),
        )
        if running_then == 2:
            break
    assert running_then == 2, "the request waited for a batch chunk to end"
    [(arrived,)] = two_clusters.query(
        "SELECT created_at FROM transcriptions_job WHERE public_id = %s", (other_job,)
    )
    # Of the batch's chunks queued when the request arrived, none started before it: it waited
    # only for a running chunk to end (at most one claim can race its arrival).
    overtaking = two_clusters.query(
        "SELECT COUNT(*) FROM transcriptions_chunk c JOIN transcriptions_job j ON j.id = c.job_id"
        " WHERE j.public_id IN (%s, %s, %s, %s) AND c.started_at > %s AND c.started_at < %s",
        (*batch, arrived, other_start),
    )
    assert overtaking[0][0] <= 1, (overtaking, waited)
    batch_left = two_clusters.query(
        "SELECT COUNT(*) FROM transcriptions_chunk c JOIN transcriptions_job j ON j.id = c.job_id"
        " WHERE j.public_id IN (%s, %s, %s, %s) AND (c.started_at IS NULL OR c.started_at > %s)",
        (*batch, other_start),
    )
    assert batch_left[0][0] >= 2, "the batch still had chunks waiting: the request went first"

    # The batch ends too, each job billed its own 73 s.
    for job_id in batch:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = httpx.get(f"{two_clusters.api_base}/audio/jobs/{job_id}", headers=headers).json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.1)
        assert job["status"] == "succeeded" and job["usage"]["seconds"] == 73, job
    starts = [
        datetime.fromisoformat(str(start)).timestamp()
        for job_id in batch
        for _, _, start, _ in chunk_rows(two_clusters, job_id)
    ]
    assert statistics.pstdev(starts) > 0  # they ran over time, on the two workers
