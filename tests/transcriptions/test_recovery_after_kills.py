"""What a SIGKILLed process can leave between two of its steps, put right by the minute's
recovery (issue 29's faults 3 and 4), or never left at all:

- a request holds its seconds and concurrency slot only in the transaction that stores its
  job: killed before, while its audio is being written, it holds nothing;

- a job whose request stored it and died before queuing its first chunk is queued, not left
  queued for good with its quota reserved; a job just stored is left to its request;
- the usage row of a job whose worker died between committing its end and settling the row
  gets its cost, so that the usage rows agree with the quota again."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_q.conf import Conf

from billing.models import ActiveJobs, QuotaPeriod, UsageRecord
from tests.transcriptions.test_lanes import submit_async
from transcriptions import signals, tasks
from transcriptions.models import Chunk, Job
from transcriptions.services import chunks as chunk_services
from transcriptions.services import submission

pytestmark = pytest.mark.fake_engine


def stored_not_queued(api, *, ago: timedelta) -> Job:
    """A job as a request killed after storing it leaves it: no chunk, no turn."""
    job = submit_async(api)
    Chunk.objects.filter(job=job).delete()
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - ago)
    return job


def test_a_job_stored_but_never_queued_is_queued_by_the_recovery(api_a, monkeypatch):
    turns = []
    monkeypatch.setattr(chunk_services, "turns_enqueue", turns.append)
    stranded = stored_not_queued(api_a, ago=timedelta(minutes=2))
    young = stored_not_queued(api_a, ago=timedelta(seconds=5))
    turns.clear()

    assert tasks.recover_orphaned_jobs()["unqueued_enqueued"] == 1
    assert [c.index for c in Chunk.objects.filter(job=stranded)] == [0]
    assert [f"{stranded.public_id}#0"] in turns
    assert not Chunk.objects.filter(job=young).exists(), "its request may be queuing it now"
    # Queued once: the next round finds nothing more to do.
    assert tasks.recover_orphaned_jobs()["unqueued_enqueued"] == 0
    tasks.run_chunk()
    assert Job.objects.get(pk=stranded.pk).status == Job.Status.SUCCEEDED


def test_the_usage_row_a_killed_worker_left_unsettled_gets_its_cost(api_a, stalled_queue):
    done = submit_async(api_a)
    assert tasks.run_chunk() == f"{done.public_id}#0"
    running = submit_async(api_a)
    Chunk.objects.filter(job=running).update(status=Chunk.Status.RUNNING, worker="w:1")
    Job.objects.filter(pk=running.pk).update(status=Job.Status.RUNNING)
    # The worker was killed after the job's end was committed, before the row was settled.
    UsageRecord.objects.filter(job_id=done.public_id).update(billed_seconds=None)

    assert tasks.recover_orphaned_jobs()["usage_records_settled"] == 1
    [billed] = UsageRecord.objects.filter(job_id=done.public_id).values_list(
        "billed_seconds", flat=True
    )
    assert billed == QuotaPeriod.objects.get(tenant=done.tenant).used_seconds > 0
    # A running job's row waits for its end.
    assert UsageRecord.objects.get(job_id=running.public_id).billed_seconds is None


def test_the_worker_started_in_a_dead_ones_place_settles_the_row_it_left(
    api_a, stalled_queue, monkeypatch
):
    done = submit_async(api_a)
    tasks.run_chunk()
    UsageRecord.objects.filter(job_id=done.public_id).update(billed_seconds=None)
    monkeypatch.setattr(signals.engine, "preload", lambda: None)
    monkeypatch.setattr("ops.workers.heartbeat_start", lambda models: None)
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", django_settings.Q_CLUSTER["name"])

    signals.on_worker_spawn(sender=None, proc_name="Process-2")
    assert UsageRecord.objects.get(job_id=done.public_id).billed_seconds > 0


def held(tenant) -> tuple[int, int]:
    seconds = sum(
        QuotaPeriod.objects.filter(tenant=tenant).values_list("reserved_seconds", flat=True)
    )
    slots = sum(ActiveJobs.objects.filter(tenant=tenant).values_list("count", flat=True))
    return seconds, slots


def test_a_request_killed_while_storing_its_audio_holds_nothing(api_a, stalled_queue, monkeypatch):
    store, at_store = submission._in_pieces, []

    def storing(upload):
        at_store.append(held(api_a.tenant))  # what a SIGKILL now would leave held
        return store(upload)

    monkeypatch.setattr(submission, "_in_pieces", storing)
    job = submit_async(api_a)
    assert at_store == [(0, 0)]
    assert held(api_a.tenant) == (job.reserved_seconds, 1) and job.reserved_seconds > 0
