"""Requests that wait on others hold no thread each (issue 25): an Idempotency-Key retry waiting
for the first request to store its job, and a submit waiting on a tenant's slow name server for
its callback_url. Driven through Django's ASGI handler in this process, as the web process runs
it (each request's synchronous part in a thread of its own), and counted in threads.

On PostgreSQL only: the requests write at once from their threads, which the test database's
shared-cache SQLite refuses ("database table is locked"); `.ci/run`'s second pass runs them.
"""

import asyncio
import gc
import os
import threading

import pytest
from django.db import connection
from django.test.client import BOUNDARY, encode_multipart

from billing.services import idempotency
from ops import threads
from ops.request_thread import ASGIHandler
from speech import audio
from tests.asgi import http_scope, multipart_headers
from tests.audio import JFK
from tests.conftest import assert_error
from transcriptions.models import Job
from transcriptions.services import callback_targets, outbound

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only(monkeypatch):
    if connection.vendor == "postgresql":
        # The requests' threads close their connections as they end (the test database is
        # dropped afterwards, which open sessions would prevent).
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
        yield
        threads.pools_connections_close()
        gc.collect()
        return
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail("DATABASE_URL names PostgreSQL, yet the test database is not on it")
    pytest.skip("needs PostgreSQL (.ci/run's second pass): its requests write at once")


WAITERS = 12
# What may start while they wait, however many they are: the shared pools of ops.threads (4
# threads for the waits' reads, and what the request middleware writes) and of outbound's
# lookups (a tenant's share of them).
POOLS = 8


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.content = body

    def json(self):
        import json

        return json.loads(self.content)


async def post_job(key: str, *, headers=(), **fields) -> Answer:
    """POST /v1/audio/jobs (multipart, jfk.flac) through the ASGI handler."""
    with JFK.open("rb") as fh:
        body = encode_multipart(BOUNDARY, {"file": fh, "model": "tiny.en", **fields})
    scope = http_scope(
        "POST", "/v1/audio/jobs", key=key, headers=[*multipart_headers(body), *headers]
    )
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    connected = asyncio.Event()
    status, parts = [], []

    async def receive():
        if messages:
            return messages.pop()
        await connected.wait()  # the client stays until the answer is sent

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await ASGIHandler()(scope, receive, send)
    return Answer(status[0], b"".join(parts))


async def until(predicate, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_idempotent_retries_waiting_for_the_first_request_hold_no_thread_each(
    api_a, stalled_queue, monkeypatch
):
    """Each retry used to sleep in its request's thread (up to 10 s) until the first request
    had stored its job: WAITERS retries held WAITERS threads."""
    first_in, first_go = threading.Event(), threading.Event()
    probe = audio.probe

    def slow_first(*args, **kwargs):  # injected fault: the first request is slow to store
        if not first_in.is_set():
            first_in.set()
            first_go.wait(30)
        return probe(*args, **kwargs)

    monkeypatch.setattr(audio, "probe", slow_first)
    claims = []
    claim = idempotency.idempotency_claim

    def counted_claim(**kwargs):  # observes only
        claims.append(kwargs["request_id"])
        return claim(**kwargs)

    monkeypatch.setattr("transcriptions.services.submission.idempotency_claim", counted_claim)
    key = [("idempotency-key", "retry-threads")]

    async def scenario():
        first = asyncio.create_task(post_job(api_a.key, headers=key))
        await until(first_in.is_set)
        idle = threading.active_count()
        retries = [asyncio.create_task(post_job(api_a.key, headers=key)) for _ in range(WAITERS)]
        await until(lambda: len(claims) >= 1 + WAITERS)
        await asyncio.sleep(0.3)  # each retry now waits (as it waits)
        during = threading.active_count()
        first_go.set()
        return await first, await asyncio.gather(*retries), idle, during

    first, retries, idle, during = asyncio.run(scenario())
    assert during - idle <= POOLS, (idle, during)
    assert first.status_code == 202, first.content
    job_id = first.json()["id"]
    assert [(r.status_code, r.json()["id"]) for r in retries] == [(202, job_id)] * WAITERS
    assert Job.objects.count() == 1


def test_a_slow_name_server_holds_no_thread_per_request_and_is_cut_at_the_deadline(
    api_a, api_b, stalled_queue, monkeypatch
):
    """Each submit with a callback_url used to wait for the tenant's name server in its
    request's thread, for as long as the resolver took: WAITERS submits held WAITERS threads.
    Another tenant's submit meanwhile is not held up by them."""
    monkeypatch.setattr(callback_targets, "RESOLVE_SECONDS", 0.5)
    answer = threading.Event()
    lookups = []

    def name_servers(host, port):
        lookups.append(host)
        if host == "slow-dns.example":
            answer.wait(30)  # injected fault: tenant A's name server does not answer
        return ["93.184.216.34"]

    monkeypatch.setattr(outbound, "resolve", name_servers)

    async def scenario():
        idle = threading.active_count()
        submits = [
            asyncio.create_task(post_job(api_a.key, callback_url="http://slow-dns.example/hook"))
            for _ in range(WAITERS)
        ]
        await until(lambda: len(lookups) >= callback_targets.RESOLVES_PER_TENANT)
        other = await post_job(api_b.key, callback_url="http://fast.example/hook")
        during = threading.active_count()
        await asyncio.wait(submits, timeout=10)
        answer.set()  # the name server answers at last (too late for the submits)
        return await asyncio.gather(*submits), other, idle, during

    responses, other, idle, during = asyncio.run(scenario())
    assert during - idle <= POOLS, (idle, during)
    for response in responses:
        assert_error(
            response,
            400,
            code="invalid_value",
            param="callback_url",
            message=callback_targets.MSG_CALLBACK_SLOW,
        )
    assert not Job.objects.filter(tenant=api_a.tenant).exists()
    assert other.status_code == 202, other.content
    # Tenant A's lookups took no more than its share of the resolver pool.
    assert lookups.count("slow-dns.example") <= callback_targets.RESOLVES_PER_TENANT
