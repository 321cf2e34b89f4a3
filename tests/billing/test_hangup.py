"""Issue 25, hole 2: a client that hangs up while its upload is being submitted. Driven through
Django's ASGI handler, with the disconnect timed against the submission (before its job row,
or just after it): whatever was created, every job has its one usage row, and the usage log
bills what the quota counted. (tests/e2e/test_hangup.py does it with real sockets.)"""

import asyncio
import contextlib
import threading
import time

import pytest
from django.db import OperationalError
from django.db.models import Sum
from django.test.client import BOUNDARY, encode_multipart

from api.views import audio as audio_views
from billing.models import QuotaPeriod, UsageRecord
from ops.request_thread import ASGIHandler
from speech import audio
from tests.asgi import http_scope, multipart_headers
from tests.audio import JFK
from transcriptions import tasks
from transcriptions.models import Job
from transcriptions.services import submission

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def closed_row_written() -> None:
    """Until the request log has written the request's 499 (the client left)."""
    deadline = time.monotonic() + 10
    while True:
        # The test database (SQLite in memory, shared cache) refuses a read while another
        # thread writes, where a file or PostgreSQL would wait: read again then.
        with contextlib.suppress(OperationalError):
            if UsageRecord.objects.filter(status_code=499).exists():
                return
        assert time.monotonic() < deadline, "the request log wrote no 499 row"
        time.sleep(0.02)


def hang_up_at(monkeypatch, target: str, name: str) -> threading.Event:
    """Patch `target.name` so that, when the submission reaches it, the client hangs up and the
    submission goes on only once the request log has written the request's 499 row."""
    reached = threading.Event()
    real = getattr(target, name)

    def then_hang_up(*args, **kwargs):
        reached.set()
        closed_row_written()
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, then_hang_up)
    return reached


def post_and_hang_up(key: str, path: str, reached: threading.Event) -> None:
    body = encode_multipart(BOUNDARY, {"model": "tiny.en", "file": JFK.open("rb")})
    scope = http_scope("POST", path, key=key, headers=multipart_headers(body))

    async def exchange() -> None:
        sent = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            if sent:
                return sent.pop()
            while not reached.is_set():  # connected until the submission gets there
                await asyncio.sleep(0.01)
            return {"type": "http.disconnect"}

        async def send(message):
            pass

        await asyncio.wait_for(ASGIHandler()(scope, receive, send), 60)

    asyncio.run(exchange())


def submission_watched(monkeypatch) -> threading.Event:
    """Set once the view's submission has returned or raised: the view's thread goes on after
    the disconnect, and creates its job, or not."""
    done = threading.Event()
    real = audio_views.job_submit

    def watched(**kwargs):
        try:
            return real(**kwargs)
        finally:
            done.set()

    monkeypatch.setattr(audio_views, "job_submit", watched)
    return done


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/jobs"])
@pytest.mark.parametrize(
    "moment",
    [(audio, "probe"), (submission, "job_enqueue")],
    ids=["before-the-job", "after-the-job"],
)
def test_a_hang_up_during_the_submit_leaves_no_job_unbilled(
    api_a, stalled_queue, monkeypatch, path, moment
):
    reached = hang_up_at(monkeypatch, *moment)
    submitted = submission_watched(monkeypatch)
    post_and_hang_up(api_a.key, path, reached)
    assert submitted.wait(30)
    while tasks.run_chunk():  # what the worker runs
        pass
    jobs = list(Job.objects.all())
    rows = list(UsageRecord.objects.all())
    assert len(rows) == 1, "one row for the one request"
    for job in jobs:
        assert job.is_finished
        mine = [row for row in rows if row.job_id == job.public_id]
        assert len(mine) == 1, f"a {job.status} job with {len(mine)} usage rows"
        [row] = mine
        assert (row.status_code, row.error_code) == (499, "client_closed_request")
    billed = sum(row.billed_seconds for row in rows)
    used = QuotaPeriod.objects.aggregate(s=Sum("used_seconds"))["s"] or 0
    assert billed == used == 11 * len([job for job in jobs if job.status == Job.Status.SUCCEEDED])
    assert not QuotaPeriod.objects.filter(reserved_seconds__gt=0).exists()
