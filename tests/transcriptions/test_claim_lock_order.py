"""A worker's claim of a chunk and the end of its job (a cancel, a delete) write the same two
rows, the job's and the chunk's: both take them in that order, so a cancel racing a claim waits
for it instead of deadlocking (on PostgreSQL, where writers wait for each other's rows; SQLite
has one writer at a time)."""

import threading
import time

import pytest
from django.db import connection, transaction

from transcriptions.models import Chunk, Job
from transcriptions.services.chunks import chunk_claim, job_chunks_release

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def waiting_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def test_a_cancel_racing_a_claim_of_its_job_s_chunk_does_not_deadlock(tenant_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (.ci/run's second pass)")
    job = Job.objects.create(tenant=tenant_a, requested_model="tiny.en", model="tiny.en")
    Chunk.objects.create(job=job, tenant=tenant_a, arrived_at=job.created_at, index=0)
    claimer_pid: list[int] = []
    failures: list[Exception] = []

    def claim() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                claimer_pid.append(cursor.fetchone()[0])
            chunk_claim(worker="w:1")
        except Exception as exc:  # a deadlock is detected and one side rolled back
            failures.append(exc)
        finally:
            connection.close()  # this thread's own

    claimer = threading.Thread(target=claim)
    # The job's end as lifecycle._finish writes it: the job's row, then its chunks'.
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED)
        claimer.start()
        for _ in range(300):  # the claim is under way and waits for a row this holds
            if claimer_pid and waiting_for_a_lock(claimer_pid[0]):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the claim never waited for the job's row")
        job_chunks_release(job_pk=job.pk, succeeded=False)
    claimer.join(timeout=30)

    assert failures == []
    assert Chunk.objects.get(job=job).status == Chunk.Status.CANCELLED
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED
