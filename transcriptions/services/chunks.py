"""A job's audio as chunks: the turns on the queue, claiming the next chunk by the fair policy
(transcriptions.dispatch), cutting a file into chunks, storing their samples, and putting their
results back together in file time.

The queue carries turns, not chunks: each queued chunk puts one turn on django-q2's queue, and
the worker that runs a turn takes whichever chunk the policy picks at that moment. django-q2
keeps doing what it does well (workers, timeouts, recycling, the Redis or ORM broker, several
clusters on several machines); the order is the platform's. A turn that finds nothing queued
(its chunk was cancelled, or taken by a turn handed out again after a crash) does nothing.
"""

import contextlib
import os
from contextlib import contextmanager

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import Count, F, Min, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from speech import chunking

from ..dispatch import TENANT_CHUNK_ORDER, Waiting, next_tenant
from ..models import Chunk, Job
from .storage import storage_save

TURN_TASK = "transcriptions.tasks.run_chunk"
# Claims are serialized on PostgreSQL by this transaction-scoped advisory lock (SQLite's
# IMMEDIATE transactions serialize them already): the policy then sees every earlier claim.
CLAIM_LOCK_KEY = 0x57C4_0001


def turns_enqueue(names: list[str]) -> None:
    """Put a turn on the queue for each chunk named ("job_…#index": what the task monitor
    shows; the turn may run another chunk, which its result names), and SPARE_TURNS more (see
    settings), once the transaction that queued the chunks commits (a worker must be able to
    see them when it runs the turn)."""
    if not names:
        return
    names = names + [f"{names[-1]}+spare{n}" for n in range(1, settings.SPARE_TURNS + 1)]

    def enqueue() -> None:
        for name in names:
            async_task(TURN_TASK, task_name=name)

    in_transaction = transaction.get_connection().in_atomic_block
    if Conf.ORM == DEFAULT_DB_ALIAS and in_transaction and not Conf.SYNC:
        # The ORM broker's queue is a table of this database: its rows, written in the
        # transaction that queues the chunks, are seen with them or not at all (the broker
        # wakes its pusher once they are committed). A transaction of their own after it cost
        # a synchronous request one more commit before its chunk could start. (In django-q2's
        # sync mode, tests', a task runs as it is queued: only after the commit.)
        enqueue()
        return

    def enqueue_together() -> None:
        # The ORM broker's inserts in one transaction: one commit for them all.
        together = transaction.atomic(using=Conf.ORM) if Conf.ORM else contextlib.nullcontext()
        with together:
            enqueue()

    transaction.on_commit(enqueue_together)


def chunk_name(job: Job, index: int) -> str:
    return f"{job.public_id}#{index}"


def job_first_chunk_queue(*, job: Job) -> None:
    """A new (or retried) job starts as one unplanned chunk covering its whole file."""
    Chunk.objects.create(
        job=job,
        tenant_id=job.tenant_id,
        interactive=not job.is_async,
        arrived_at=job.created_at,
        index=0,
    )
    turns_enqueue([chunk_name(job, 0)])


# --- Claiming -----------------------------------------------------------------------------------


def chunk_claim(*, worker: str, interactive_only: bool = False) -> Chunk | None:
    """The next chunk by the fair policy, now running on `worker`; None when nothing waits.
    `interactive_only`: a worker of the interactive lane (lanes.py) looks only at chunks with a
    client waiting."""
    queued = Chunk.objects.filter(status=Chunk.Status.QUEUED)
    if interactive_only:
        queued = queued.filter(interactive=True)
    # A turn that finds nothing (a worker's last look after its chunk, a spare turn) does not
    # open the claim's transaction: on SQLite that takes the one write lock, just when the job
    # that ended is being answered and its usage written. A chunk queued after this look has a
    # turn of its own.
    if not queued.exists():
        return None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_KEY])
        # Each tenant's oldest chunk that may be taken and its chunks running, in one read.
        takeable = Q(status=Chunk.Status.QUEUED)
        if interactive_only:
            takeable &= Q(interactive=True)
        per_tenant = (
            Chunk.objects.filter(status__in=(Chunk.Status.QUEUED, Chunk.Status.RUNNING))
            .values_list("tenant_id")
            .annotate(
                oldest=Min("arrived_at", filter=takeable),
                running=Count("id", filter=Q(status=Chunk.Status.RUNNING)),
            )
            .order_by()
        )
        waiting, running = [], {}
        for tenant_id, oldest, count in per_tenant:
            if oldest is not None:
                waiting.append(Waiting(tenant_id, oldest))
            if count:
                running[tenant_id] = count
        if not waiting:
            return None
        tenant_id = next_tenant(waiting, running)
        chunk = (
            queued.filter(tenant_id=tenant_id)
            .order_by(*TENANT_CHUNK_ORDER)
            .select_related("job")
            .first()
        )
        if chunk is None:  # pragma: no cover - the lock makes the two reads agree
            return None
        now = timezone.now()
        chunk.status, chunk.worker, chunk.started_at = Chunk.Status.RUNNING, worker, now
        chunk.attempts += 1
        job = chunk.job
        if job.status == Job.Status.QUEUED:
            job.status, job.started_at = Job.Status.RUNNING, now
        job.worker = worker
        job.attempts = max(job.attempts, chunk.attempts)
        # The job's row before its chunk's, the order every other writer of both takes them in
        # (a job's end, its plan, a chunk's result): the other way round, a cancel racing this
        # claim deadlocked on PostgreSQL, and the claim was rolled back with a traceback.
        Job.objects.filter(pk=job.pk, status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).update(
            status=job.status,
            started_at=job.started_at,
            worker=worker,
            attempts=Greatest(F("attempts"), chunk.attempts),
        )
        Chunk.objects.filter(pk=chunk.pk, status=Chunk.Status.QUEUED).update(
            status=chunk.status,
            worker=worker,
            started_at=now,
            attempts=chunk.attempts,
            partial_text="",
            partial_logprobs=[],
            covered_seconds=0.0,
        )
    return chunk


def chunk_requeue(*, chunk: Chunk) -> bool:
    """Give a chunk whose worker died another turn (only that chunk is decoded again)."""
    requeued = Chunk.objects.filter(
        pk=chunk.pk, status=Chunk.Status.RUNNING, worker=chunk.worker, attempts=chunk.attempts
    ).update(
        status=Chunk.Status.QUEUED,
        worker="",
        partial_text="",
        partial_logprobs=[],
        covered_seconds=0.0,
    )
    if requeued:
        turns_enqueue([chunk_name(chunk.job, chunk.index)])
    return bool(requeued)


# --- Cutting and storing ------------------------------------------------------------------------


def samples_store(*, job: Job, index: int, samples: np.ndarray) -> str:
    """Store a chunk's samples for whichever worker, on whichever machine, takes it: 16-bit
    PCM, which is exactly what the decoder produced (decode_bounded scales int16 by 1/32768)."""
    pcm = np.round(samples * 32768.0).clip(-32768, 32767).astype(np.int16)
    name = f"chunks/{job.tenant_id}/{job.public_id}/{index}.pcm"
    # Left by an earlier attempt whose worker died before recording the cut: replaced, not
    # kept beside the new one under another name.
    if default_storage.exists(name):
        default_storage.delete(name)
    return storage_save(default_storage, name, ContentFile(pcm.tobytes()))


def samples_load(name: str) -> np.ndarray:
    with default_storage.open(name, "rb") as fh:
        pcm = np.frombuffer(fh.read(), dtype=np.int16)
    samples = pcm.astype(np.float32)
    samples /= 32768.0
    return samples


def job_chunks_plan(
    *, job: Job, chunk: Chunk, samples: np.ndarray, bounds: list[tuple[int, int]], language: str
) -> bool:
    """Record the cut of a job's file: the first chunk shrinks to its piece, the others are
    stored and queued. False (and nothing kept) when the job ended meanwhile."""
    # The first piece is stored too: should its worker die, another takes it up from there.
    names = [
        samples_store(job=job, index=index, samples=samples[start:end])
        for index, (start, end) in enumerate(bounds)
    ]
    with transaction.atomic():
        active = (
            Job.objects.select_for_update().filter(pk=job.pk, status=Job.Status.RUNNING).exists()
        )
        if active:
            Chunk.objects.filter(pk=chunk.pk).update(
                planned=True, end_sample=bounds[0][1], samples_name=names[0]
            )
            Chunk.objects.bulk_create(
                Chunk(
                    job=job,
                    tenant_id=job.tenant_id,
                    interactive=chunk.interactive,
                    arrived_at=chunk.arrived_at,
                    index=index,
                    planned=True,
                    start_sample=start,
                    end_sample=end,
                    samples_name=name,
                )
                for index, ((start, end), name) in enumerate(zip(bounds, names, strict=True))
                if index > 0
            )
            Job.objects.filter(pk=job.pk).update(
                chunk_count=len(bounds), detected_language=language
            )
            turns_enqueue([chunk_name(job, index) for index in range(1, len(bounds))])
    if not active:
        for name in names:
            default_storage.delete(name)
    job.chunk_count, job.detected_language = len(bounds), language
    chunk.planned, chunk.end_sample, chunk.samples_name = True, bounds[0][1], names[0]
    return active


def job_chunks_release(*, job_pk: int, succeeded: bool) -> None:
    """A job ended: chunks still queued or running will not count (a running one's worker
    finds its result refused), and their stored samples go."""
    Chunk.objects.filter(job_id=job_pk).exclude(status=Chunk.Status.DONE).update(
        status=Chunk.Status.DONE if succeeded else Chunk.Status.CANCELLED,
        finished_at=timezone.now(),
    )


def job_chunks_files_delete(*, job_pk: int) -> None:
    names = list(
        Chunk.objects.filter(job_id=job_pk)
        .exclude(samples_name="")
        .values_list("samples_name", flat=True)
    )
    for name in names:
        default_storage.delete(name)
    if names:
        Chunk.objects.filter(job_id=job_pk).update(samples_name="")
        # A local storage keeps the job's emptied folder: remove it (others have no folders).
        with contextlib.suppress(NotImplementedError, OSError):
            os.rmdir(default_storage.path(os.path.dirname(names[0])))


# --- Results in file time -----------------------------------------------------------------------


def in_file_time(
    segments: list[dict], words: list[dict] | None, *, chunk: Chunk
) -> tuple[list[dict], list[dict] | None]:
    """A chunk's segments and words, their times moved by the chunk's start."""
    return chunking.times_moved(segments, words, chunk.start_sample)


@contextmanager
def job_audio_source(job: Job):
    """A path when the storage is local (no copy), an open file otherwise (S3 and the like)."""
    try:
        yield job.audio.path
    except NotImplementedError:
        with job.audio.open("rb") as fh:
            yield fh
