"""A job whose request stored it and died before queuing its first chunk (its web process
SIGKILLed between the two, issue 29's fault 3) is queued by the minute's recovery, not left
queued for good with its quota reserved; a job just stored is left to its request."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.transcriptions.test_lanes import submit_async
from transcriptions import tasks
from transcriptions.models import Chunk, Job
from transcriptions.services import chunks as chunk_services

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
