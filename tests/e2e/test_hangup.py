"""Issue 25, hole 2: a client that sends a whole upload and resets the connection a few ms
later, while the server is submitting its job. A job never exists without its usage row: the
row is written with the job, in its transaction, and the request log only updates it. Whatever
was created, the usage log, the billing report and the quota agree to the second."""

import json
import socket
import struct
import time

import httpx
import pytest

from tests.audio import JFK
from tests.e2e.accounting import tenant_with_limits

pytestmark = pytest.mark.e2e

# Milliseconds between the last byte of the body and the reset, per attempt.
DELAYS_MS = (2, 5, 10, 15, 25)
ENDPOINTS = ("/audio/transcriptions", "/audio/jobs")


def post_and_reset(platform, key: str, path: str, delay_ms: int) -> None:
    """A full multipart POST (the SDK's request), then an RST (SO_LINGER 0) `delay_ms` later."""
    request = httpx.Request(
        "POST",
        f"{platform.api_base}{path}",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("jfk.flac", JFK.read_bytes(), "audio/flac")},
        data={"model": "tiny.en"},
    )
    body = request.read()
    head = [
        f"POST {request.url.raw_path.decode()} HTTP/1.1",
        f"Host: {request.url.netloc.decode()}",
    ]
    head += [f"{name}: {value}" for name, value in request.headers.items() if name != "host"]
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        time.sleep(delay_ms / 1000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def state(platform, slug: str) -> tuple[int, int, int, int]:
    """(usage rows, rows still pending, jobs, jobs not ended) of the tenant."""
    [(rows, pending)] = platform.query(
        "SELECT COUNT(*), COUNT(*) - COUNT(u.billed_seconds) FROM accounts_usagerecord u "
        "JOIN accounts_tenant t ON u.tenant_id = t.id WHERE t.slug = %s",
        (slug,),
    )
    [(jobs, running)] = platform.query(
        "SELECT COUNT(*), COUNT(CASE WHEN j.status IN ('queued', 'running') THEN 1 END) "
        "FROM transcriptions_job j JOIN accounts_tenant t ON j.tenant_id = t.id "
        "WHERE t.slug = %s",
        (slug,),
    )
    return rows, pending, jobs, running


def wait_until_settled(platform, slug: str) -> None:
    """Until no job is left to run or to settle, and nothing changed for a second (a request
    reset before its body was read reaches no view, and leaves nothing)."""
    deadline = time.monotonic() + 180
    last = None
    while True:
        now = state(platform, slug)
        if now == last and not now[1] and not now[3]:
            return
        assert time.monotonic() < deadline, f"not settled: {now}"
        last = now
        time.sleep(1.0)


def test_hanging_up_during_the_submit_never_leaves_a_job_unbilled(platform_server):
    customer = tenant_with_limits(platform_server, "hangup")
    attempts = [(path, delay) for delay in DELAYS_MS for path in ENDPOINTS]
    for path, delay in attempts:
        post_and_reset(platform_server, customer.key, path, delay)
    wait_until_settled(platform_server, customer.slug)

    jobs = platform_server.query(
        "SELECT j.public_id, j.status, "
        "(SELECT COUNT(*) FROM accounts_usagerecord u WHERE u.job_id = j.public_id) "
        "FROM transcriptions_job j JOIN accounts_tenant t ON j.tenant_id = t.id "
        "WHERE t.slug = %s",
        (customer.slug,),
    )
    [(rows, logged)] = platform_server.query(
        "SELECT COUNT(*), COALESCE(SUM(u.billed_seconds), 0) FROM accounts_usagerecord u "
        "JOIN accounts_tenant t ON u.tenant_id = t.id WHERE t.slug = %s",
        (customer.slug,),
    )
    [(quota,)] = platform_server.query(
        "SELECT COALESCE(SUM(q.used_seconds), 0) FROM accounts_quotaperiod q "
        "JOIN accounts_tenant t ON q.tenant_id = t.id WHERE t.slug = %s",
        (customer.slug,),
    )
    report = json.loads(
        platform_server.manage("billing_report", "--tenant", customer.slug, "--format", "json")
    )
    reported = sum(row["billed_seconds"] for row in report["rows"])
    succeeded = [job for job in jobs if job[1] == "succeeded"]
    print(
        f"hang-ups: {len(attempts)}, usage rows: {rows}, jobs: {len(jobs)} "
        f"({len(succeeded)} succeeded, {11 * len(succeeded)} s of audio), billed: usage log "
        f"{logged} s, billing_report {reported} s, quota {quota} s"
    )
    assert len(jobs) <= rows <= len(attempts), "at most one row per request"
    assert [job for job in jobs if job[2] != 1] == [], "every job has exactly one usage row"
    assert logged == reported == quota, (logged, reported, quota)
    assert logged == 11 * len(succeeded), "each job that succeeded is billed its 11 s"
