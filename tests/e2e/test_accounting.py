"""Quota, Idempotency-Key and the usage log against the live server and its real workers,
through the official `openai` client where it has the call."""

import contextlib
import json
import sqlite3
import time

import httpx
import openai
import pytest
from openai import OpenAI

from tests.audio import JFK, JFK_TEXT, words
from tests.e2e.accounting import tenant_with_limits, usage_rows

pytestmark = pytest.mark.e2e


def client_for(platform, key: str, **options) -> OpenAI:
    return OpenAI(base_url=platform.api_base, api_key=key, **options)


@contextlib.contextmanager
def usage_log_locked(platform):
    """No usage row can be written while this holds: on SQLite the database's one write lock,
    on PostgreSQL a lock on the usage table that lets reads through."""
    url = platform.env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url) as conn:  # one transaction, until the block ends
            conn.execute("LOCK TABLE accounts_usagerecord IN SHARE ROW EXCLUSIVE MODE")
            yield
            conn.rollback()
        return
    conn = sqlite3.connect(platform.var_dir / "db.sqlite3", timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


# The first test of the session's shared platform: its start (migrate, models) is counted
# in this test's setup.
def test_the_answer_does_not_wait_for_its_usage_row(platform_server):
    """The row is written once the answer is sent (api.middleware): a usage log slow to write
    (here: locked) delays no client, and the row still lands, once, when it can."""
    customer = tenant_with_limits(platform_server, "prompt")
    client = client_for(platform_server, customer.key, max_retries=0, timeout=2.0)
    client.models.list()  # the key's last use is noted now: the next request writes nothing
    assert usage_rows(platform_server, customer.key, count=1) == [("/v1/models", 200, "", 0)]
    held = 3.0
    with usage_log_locked(platform_server):
        locked_at = time.monotonic()
        models = client.models.list()  # the old order (row, then answer) timed out here
        answered = time.monotonic() - locked_at
        time.sleep(max(0.0, held - (time.monotonic() - locked_at)))
        rows_while_locked = usage_rows(platform_server, customer.key)
    assert [m.id for m in models][:1] == ["whisper-1"]
    assert answered < 1.0, answered
    assert len(rows_while_locked) == 1
    assert usage_rows(platform_server, customer.key, count=2) == [("/v1/models", 200, "", 0)] * 2


def test_insufficient_quota_is_final_for_the_client(platform_server):
    customer = tenant_with_limits(platform_server, "broke", monthly_audio_seconds=5)
    client = client_for(platform_server, customer.key, max_retries=2)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as info, JFK.open("rb") as f:
        client.audio.transcriptions.create(model="tiny.en", file=f)
    assert time.monotonic() - started < 5, "not retried"
    assert info.value.code == "insufficient_quota" and info.value.type == "insufficient_quota"
    assert "needs 11 seconds of audio and 5 of this month's 5 seconds remain" in str(
        info.value.body["message"]
    )
    assert usage_rows(platform_server, customer.key, count=1) == [
        ("/v1/audio/transcriptions", 429, "insufficient_quota", 0)
    ], "one request: the client was told not to retry"


def test_an_idempotent_retry_is_answered_from_the_first_and_billed_once(platform_server):
    customer = tenant_with_limits(platform_server, "retry")
    client = client_for(platform_server, customer.key, max_retries=0)
    texts = []
    for _ in range(2):
        with JFK.open("rb") as f:
            result = client.audio.transcriptions.create(
                model="tiny.en", file=f, extra_headers={"Idempotency-Key": "upload-42"}
            )
        texts.append(result.text)
    assert texts[0] == texts[1] and words(texts[0]) == words(JFK_TEXT)
    assert [row[3] for row in usage_rows(platform_server, customer.key, count=2)] == [11, 0]
    [(jobs,)] = platform_server.query(
        "SELECT COUNT(*) FROM transcriptions_job j JOIN accounts_tenant t ON j.tenant_id = t.id "
        "WHERE t.slug = %s",
        (customer.slug,),
    )
    assert jobs == 1


def test_an_async_job_is_billed_when_the_worker_ends_it(platform_server):
    customer = tenant_with_limits(platform_server, "async")
    headers = {"Authorization": f"Bearer {customer.key}"}
    with JFK.open("rb") as f:
        response = httpx.post(
            f"{platform_server.api_base}/audio/jobs",
            headers=headers,
            files={"file": ("jfk.flac", f, "audio/flac")},
            data={"model": "tiny.en"},
            timeout=30,
        )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = usage_rows(platform_server, customer.key)
        if rows and rows[0][3] is not None:
            break
        time.sleep(0.2)
    assert rows == [("/v1/audio/jobs", 202, "", 11)]
    report = json.loads(
        platform_server.manage("billing_report", "--tenant", customer.slug, "--format", "json")
    )
    (row,) = report["rows"]
    assert (row["requests"], row["successful_requests"], row["billed_seconds"]) == (1, 1, 11)
    assert (row["billed_minutes"], row["amount"], row["currency"]) == ("0.18", "0.00", "USD")
