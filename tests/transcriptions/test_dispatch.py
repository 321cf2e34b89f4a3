"""The fair order of chunks (transcriptions/dispatch.py): the policy on its own, then the claim
that applies it to the database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import TenantFactory
from transcriptions.dispatch import Waiting, next_tenant
from transcriptions.models import Chunk, Job
from transcriptions.services.chunks import chunk_claim

T0 = timezone.now()


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def test_nothing_waiting_gives_none():
    assert next_tenant([], {1: 3}) is None


def test_the_tenant_with_least_running_goes_first_whatever_it_queued_later():
    waiting = [Waiting(1, at(0)), Waiting(2, at(50))]
    assert next_tenant(waiting, {1: 2, 2: 0}) == 2
    assert next_tenant(waiting, {1: 1, 2: 1}) == 1, "a tie: the oldest waiting chunk"
    assert next_tenant(waiting, {2: 1}) == 1, "a tenant absent from running has none"


def test_ties_go_by_arrival_then_by_tenant():
    assert next_tenant([Waiting(2, at(5)), Waiting(1, at(9))], {}) == 2
    assert next_tenant([Waiting(2, at(5)), Waiting(1, at(5))], {}) == 1


# --- The claim, on real rows --------------------------------------------------------------------


def make_job(tenant, *, is_async: bool, arrived: float, chunks: int, running: int = 0) -> Job:
    job = Job.objects.create(
        tenant=tenant,
        requested_model="tiny.en",
        model="tiny.en",
        is_async=is_async,
        created_at=at(arrived),
        status=Job.Status.RUNNING if running else Job.Status.QUEUED,
    )
    for index in range(chunks):
        Chunk.objects.create(
            job=job,
            tenant=tenant,
            interactive=not is_async,
            arrived_at=job.created_at,
            index=index,
            planned=True,
            status=Chunk.Status.RUNNING if index < running else Chunk.Status.QUEUED,
            worker="w:1" if index < running else "",
        )
    return job


def claims(n: int) -> list[tuple[str, int]]:
    taken = []
    for _ in range(n):
        chunk = chunk_claim(worker="w:2")
        taken.append((chunk.job.tenant.slug, chunk.index) if chunk else None)
    return taken


@pytest.mark.django_db
def test_a_batch_does_not_hold_back_another_tenants_request():
    batch, other = TenantFactory(slug="batch"), TenantFactory(slug="other")
    # Batch queued four async jobs of three chunks first; two of its chunks are running.
    make_job(batch, is_async=True, arrived=0, chunks=3, running=2)
    for n in range(1, 4):
        make_job(batch, is_async=True, arrived=n, chunks=3)
    # Other arrives later with an async job and then a synchronous request.
    make_job(other, is_async=True, arrived=10, chunks=2)
    sync = make_job(other, is_async=False, arrived=11, chunks=1)

    # Other runs nothing: its turn, and its synchronous request first though it came later.
    first = chunk_claim(worker="w:2")
    assert (first.job_id, first.index) == (sync.pk, 0)
    assert Job.objects.get(pk=sync.pk).status == Job.Status.RUNNING
    # Other 1 running, Batch 2: Other again (its async job); then 2 and 2: the oldest waiting
    # chunk (Batch's, queued first); then Other (2 against 3).
    assert claims(3) == [("other", 0), ("batch", 2), ("other", 1)]
    # Other has nothing left: Batch's chunks in its jobs' order.
    assert claims(4) == [("batch", 0), ("batch", 1), ("batch", 2), ("batch", 0)]


@pytest.mark.django_db
def test_chunks_of_a_finished_job_are_not_taken():
    tenant = TenantFactory(slug="solo")
    job = make_job(tenant, is_async=True, arrived=0, chunks=2)
    from transcriptions import services

    assert services.job_cancel(job=job)
    assert chunk_claim(worker="w:2") is None
    assert set(job.chunks.values_list("status", flat=True)) == {Chunk.Status.CANCELLED}


@pytest.mark.django_db
def test_a_claim_counts_the_attempt_and_names_the_worker():
    tenant = TenantFactory(slug="solo")
    job = make_job(tenant, is_async=False, arrived=0, chunks=1)
    chunk = chunk_claim(worker="host:42")
    row = Chunk.objects.get(pk=chunk.pk)
    assert (row.status, row.attempts, row.worker) == (Chunk.Status.RUNNING, 1, "host:42")
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (Job.Status.RUNNING, "host:42", 1)
    assert chunk_claim(worker="host:43") is None, "one chunk, one claim"
