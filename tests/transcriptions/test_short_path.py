"""What a short synchronous request costs the platform besides the engine, item by item (the
audio's UPDATE and the key's lookup fail on the code before their change: checked; the others
test the new helpers and what must stay as it was: the stored file, a lost race's audio).

- `manage.py serve` with one cluster queues no spare turn (one is for another cluster's workers);
- an upload held in memory is stored in 64 KB writes (one write of a megabyte is 4 times slower);
- a job's end lets go of its audio in the UPDATE that ends it, not in a write of its own;
- the API key's lookup brings the tenant's plan and override: its limits cost no more queries;
- with the ORM broker, a chunk's turn is written in the transaction that queues the chunk, not
  in one of its own after it.
"""

import io
import os

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_q.conf import Conf
from django_q.models import OrmQ

from accounts.selectors import api_key_find
from billing.models import LIMIT_FIELDS, Plan
from billing.selectors import plan_default, tenant_limits
from billing.services import plan_override_set, tenant_plan_set
from ops.management.commands.serve import cluster_environment
from tests.audio import JFK
from transcriptions import services
from transcriptions.models import Chunk, Job
from transcriptions.services import chunks, lifecycle
from transcriptions.services.submission import _in_pieces

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def test_serve_queues_no_spare_turn_with_one_cluster():
    assert cluster_environment({}, clusters=1)["SPARE_TURNS"] == "0"
    assert "SPARE_TURNS" not in cluster_environment({}, clusters=2)
    # An operator's own value is kept.
    assert cluster_environment({"SPARE_TURNS": "2"}, clusters=1)["SPARE_TURNS"] == "2"


def test_an_upload_in_memory_is_stored_in_pieces_of_64_kb():
    data = JFK.read_bytes()
    upload = InMemoryUploadedFile(io.BytesIO(data), "file", "jfk.flac", None, len(data), None)
    pieces = list(_in_pieces(upload).chunks())
    assert len(data) > 1_000_000 and max(len(p) for p in pieces) == 64 * 1024
    assert b"".join(pieces) == data
    # A file spooled to disk is the storage's to move, whole.
    spooled = TemporaryUploadedFile("jfk.flac", None, len(data), None)
    assert _in_pieces(spooled) is spooled
    spooled.close()


def test_a_stored_upload_is_the_file_sent(api_a, stalled_queue):
    with JFK.open("rb") as f:
        response = api_a.client.post(
            "/v1/audio/jobs", {"file": f, "model": "tiny.en"}, format="multipart"
        )
    job = Job.objects.get(public_id=response.json()["id"])
    with job.audio.open("rb") as stored:
        assert stored.read() == JFK.read_bytes()


def _running_job_with_audio(api_a) -> Job:
    with JFK.open("rb") as f:
        response = api_a.client.post(
            "/v1/audio/jobs", {"file": f, "model": "tiny.en"}, format="multipart"
        )
    job = Job.objects.get(public_id=response.json()["id"])
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    job.refresh_from_db()
    return job


def test_a_job_lets_go_of_its_audio_in_the_update_that_ends_it(api_a, stalled_queue, settings):
    settings.RETAIN_AUDIO = False
    job = _running_job_with_audio(api_a)
    path = job.audio.path
    with CaptureQueriesContext(connection) as queries:
        assert services.job_fail(job=job, code="engine_error", message="failed")
    updates = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "transcriptions_job"') and '"audio"' in q["sql"]
    ]
    assert len(updates) == 1 and '"status"' in updates[0], updates
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and not job.audio
    assert not os.path.exists(path)


def test_a_job_ended_by_someone_else_keeps_its_audio_for_them(api_a, stalled_queue, settings):
    """The end is taken once: the loser of a race deletes nothing."""
    settings.RETAIN_AUDIO = False
    job = _running_job_with_audio(api_a)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED)
    assert not lifecycle.job_fail(job=job, code="engine_error", message="late")
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.audio
    assert job.audio.storage.exists(job.audio.name)


def test_the_key_lookup_brings_the_limits_of_its_tenant(api_a, django_assert_num_queries):
    values = {name: getattr(plan_default(), name) for name in LIMIT_FIELDS}
    pro = Plan.objects.create(slug="pro-short", name="Pro", **{**values, "concurrent_jobs": 4})
    tenant_plan_set(tenant=api_a.tenant, plan=pro)
    plan_override_set(tenant=api_a.tenant, requests_per_minute=7)
    api_key = api_key_find(key=api_a.key)
    with django_assert_num_queries(0):
        limits = tenant_limits(tenant=api_key.tenant)
    assert (limits.plan, limits.requests_per_minute, limits.concurrent_jobs) == ("pro-short", 7, 4)


class _RolledBack(Exception):
    pass


def test_a_chunk_and_its_turn_are_committed_together(api_a, stalled_queue, monkeypatch, settings):
    """A turn's row used to be written after the chunk's commit, in a transaction of its own:
    one commit more before a synchronous request's chunk could start."""
    if Conf.ORM is None:
        pytest.skip("the Redis broker's queue is not in the database: turns follow the commit")
    job = _running_job_with_audio(api_a)  # stored with its chunk; no turn (stalled queue)
    Chunk.objects.filter(job=job).delete()
    monkeypatch.undo()  # turns are queued again (the stalled queue's patch is undone),
    monkeypatch.setattr(Conf, "SYNC", False)  # as a deployment queues them: rows, not calls
    assert OrmQ.objects.count() == 0
    with pytest.raises(_RolledBack), transaction.atomic():
        chunks.job_first_chunk_queue(job=job)
        # Inside the transaction that wrote the chunk: the turn is there already.
        assert Chunk.objects.filter(job=job).count() == 1
        assert OrmQ.objects.count() == 1 + settings.SPARE_TURNS
        raise _RolledBack
    # And gone with it: no turn is left without its chunk.
    assert Chunk.objects.filter(job=job).count() == 0 and OrmQ.objects.count() == 0
    with transaction.atomic():
        chunks.job_first_chunk_queue(job=job)
    assert Chunk.objects.filter(job=job).count() == 1
    assert OrmQ.objects.count() == 1 + settings.SPARE_TURNS
