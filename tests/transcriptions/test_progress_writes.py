"""How often a running job of one chunk writes its progress: a job nobody streams at most once
every PROGRESS_INTERVAL (a short file's decode is not interrupted by writes nobody reads), a
stream at every segment (its text goes to the client at once). Nothing decoded is lost between
two writes."""

import pytest

from transcriptions.models import Chunk, Job
from transcriptions.services import progress

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    return clock


def running_job(tenant, *, stream: bool) -> tuple[Job, Chunk]:
    job = Job.objects.create(
        tenant=tenant,
        requested_model="tiny.en",
        model="tiny.en",
        stream=stream,
        status=Job.Status.RUNNING,
    )
    chunk = Chunk.objects.create(job=job, tenant_id=tenant.pk, arrived_at=job.created_at, index=0)
    return job, chunk


def segment(text: str, end: float) -> dict:
    return {"text": text, "start": end - 1.0, "end": end}


def written(job: Job) -> tuple[int, str]:
    job.refresh_from_db()
    return job.progress, job.partial_text


def test_a_job_nobody_streams_writes_at_most_once_an_interval(tenant_a, clock):
    job, chunk = running_job(tenant_a, stream=False)
    on_segment = progress.progress_reporter(job, chunk)
    on_segment(segment(" One.", 2.0), 10.0)
    clock.now += progress.PROGRESS_INTERVAL / 2
    on_segment(segment(" Two.", 4.0), 10.0)
    assert written(job) == (0, ""), "written before the interval passed"
    clock.now += progress.PROGRESS_INTERVAL / 2
    on_segment(segment(" Three.", 6.0), 10.0)
    # The text held back is written with the next write, in order.
    assert written(job) == (60, " One. Two. Three.")
    clock.now += 0.1
    on_segment(segment(" Four.", 8.0), 10.0)
    assert written(job) == (60, " One. Two. Three.")


def test_a_stream_writes_every_segment(tenant_a, clock):
    job, chunk = running_job(tenant_a, stream=True)
    on_segment = progress.progress_reporter(job, chunk)
    on_segment(segment(" One.", 2.0), 10.0)
    assert written(job) == (20, " One.")
    on_segment(segment(" Two.", 4.0), 10.0)
    assert written(job) == (40, " One. Two.")
    job.refresh_from_db()
    assert job.covered_seconds == 4.0  # its text went out: billed even if the job fails
