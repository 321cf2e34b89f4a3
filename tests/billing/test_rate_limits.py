"""Requests per minute per tenant and per key: the token bucket itself (with a given clock),
and the headers and 429s of the API."""

import time
import uuid

import pytest

from accounts.models import ApiKey
from billing.models import UsageRecord
from billing.ratelimit import MSG_RATE_LIMITED, Bucket, duration_text, rate_limit_take
from tests.billing.conftest import transcribe
from tests.conftest import assert_error, keyed_client
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def bucket(limit: int, scope: str = "organization test") -> Bucket:
    return Bucket(name=f"test:{uuid.uuid4().hex}", limit=limit, scope=scope)


# --- The bucket -------------------------------------------------------------------------------


def test_the_bucket_counts_down_refuses_then_refills():
    three = bucket(3)  # one request every 20 s, three at once
    states = [rate_limit_take(buckets=[three], now=1000.0) for _ in range(3)]
    assert [s.remaining for s in states] == [2, 1, 0]
    assert [duration_text(s.reset) for s in states] == ["20s", "40s", "1m0s"]
    refused = rate_limit_take(buckets=[three], now=1005.0)
    assert not refused.allowed and refused.retry_after == pytest.approx(15.0)
    assert refused.remaining == 0 and refused.reset == pytest.approx(55.0)
    # The refused request took nothing: at t+20 exactly one more passes.
    assert rate_limit_take(buckets=[three], now=1019.9).allowed is False
    again = rate_limit_take(buckets=[three], now=1020.0)
    assert again.allowed and again.remaining == 0
    # Idle for a minute: full again.
    full = rate_limit_take(buckets=[three], now=1080.0 + 20)
    assert (full.allowed, full.remaining) == (True, 2)


def test_the_tighter_bucket_binds_and_a_refusal_takes_from_none():
    tenant, key = bucket(100, "organization acme"), bucket(2, "API key sk-abc")
    first = rate_limit_take(buckets=[tenant, key], now=0.0)
    assert (first.scope, first.limit, first.remaining) == ("API key sk-abc", 2, 1)
    rate_limit_take(buckets=[tenant, key], now=0.0)
    refused = rate_limit_take(buckets=[tenant, key], now=0.0)
    assert (refused.allowed, refused.scope) == (False, "API key sk-abc")
    # The tenant's bucket lost only the two requests that passed.
    assert rate_limit_take(buckets=[tenant], now=0.0).remaining == 97


def test_a_bucket_written_by_a_clock_an_hour_ahead_is_empty_not_an_hours_wait():
    """Issue 29's fault 7: one web process's clock stepped an hour ahead before another's (or
    one machine's clock is ahead of another's)."""
    three = bucket(3)
    assert rate_limit_take(buckets=[three], now=1000.0 + 3600).allowed
    behind = rate_limit_take(buckets=[three], now=1000.0)
    assert not behind.allowed and behind.retry_after == pytest.approx(20.0)  # one request's
    assert behind.reset == pytest.approx(60.0)


def test_a_zero_limit_lets_nothing_through():
    assert not rate_limit_take(buckets=[bucket(0)], now=0.0).allowed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0ms"),
        (0.02, "20ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (59.5, "59.5s"),
        (60, "1m0s"),
        (361.25, "6m1.25s"),
    ],
)
def test_durations_are_written_as_openai_does(seconds, text):
    assert duration_text(seconds) == text


# --- Through the API ----------------------------------------------------------------------------


def seconds_of(text: str) -> float:
    """`1m0s` -> 60.0, `19.98s` -> 19.98, `20ms` -> 0.02."""
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    minutes, _, secs = text[:-1].rpartition("m")
    return int(minutes or 0) * 60 + float(secs)


def test_every_keyed_response_carries_the_headers_and_they_count_down(api_a, set_limits):
    set_limits(api_a.tenant, requests_per_minute=3)
    responses = [api_a.client.get("/v1/models") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r["x-ratelimit-limit-requests"] for r in responses] == ["3", "3", "3"]
    assert [r["x-ratelimit-remaining-requests"] for r in responses] == ["2", "1", "0"]
    resets = [seconds_of(r["x-ratelimit-reset-requests"]) for r in responses]
    assert 19 < resets[0] <= 20 and 39 < resets[1] <= 40 and 59 < resets[2] <= 60

    refused = api_a.client.get("/v1/models")
    assert_error(
        refused,
        429,
        type="requests",
        code="rate_limit_exceeded",
        message=MSG_RATE_LIMITED.format(scope="organization acme", limit=3, wait="20s"),
    )
    assert refused.json()["error"]["message"] == (
        "Rate limit reached for requests per minute (RPM) on organization acme: Limit 3, "
        "Used 3, Requested 1. Please try again in 20s."
    )
    assert refused["Retry-After"] == "20"
    assert refused["x-ratelimit-remaining-requests"] == "0"
    row = UsageRecord.objects.get(request_id=refused["x-request-id"])
    assert (row.status_code, row.error_code, row.tenant) == (
        429,
        "rate_limit_exceeded",
        api_a.tenant,
    )


def test_the_limit_resets_as_the_bucket_refills(api_a, set_limits):
    set_limits(api_a.tenant, requests_per_minute=120)  # one more every 0.5 s
    for _ in range(200):
        response = api_a.client.get("/v1/models")
        if response.status_code == 429:
            break
    else:
        pytest.fail("never limited")
    assert response["Retry-After"] == "1"
    time.sleep(0.5)
    after = api_a.client.get("/v1/models")
    assert after.status_code == 200 and int(after["x-ratelimit-remaining-requests"]) <= 1
    time.sleep(1.6)
    assert int(api_a.client.get("/v1/models")["x-ratelimit-remaining-requests"]) >= 2


def test_a_keys_own_limit_applies_within_the_tenants(api_a):
    ApiKey.objects.filter(pk=api_a.api_key.pk).update(requests_per_minute=2)
    other = keyed_client(api_a.tenant)
    assert [api_a.client.get("/v1/models").status_code for _ in range(3)] == [200, 200, 429]
    refused = api_a.client.get("/v1/models")
    assert f"on API key {api_a.api_key.prefix}:" in refused.json()["error"]["message"]
    assert refused["x-ratelimit-limit-requests"] == "2"
    assert other.client.get("/v1/models").status_code == 200, "the tenant's other key is free"


def test_the_tenants_limit_is_shared_by_its_keys(api_a, api_b, set_limits):
    set_limits(api_a.tenant, requests_per_minute=2)
    other = keyed_client(api_a.tenant)
    assert api_a.client.get("/v1/models").status_code == 200
    assert other.client.get("/v1/models").status_code == 200
    assert other.client.get("/v1/models").status_code == 429
    assert api_b.client.get("/v1/models").status_code == 200, "another tenant is untouched"


def test_audio_requests_are_counted_before_any_work(api_a, set_limits):
    set_limits(api_a.tenant, requests_per_minute=1)
    api_a.client.get("/v1/models")
    response = transcribe(api_a)
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert not Job.objects.exists()


def test_an_unauthenticated_response_has_no_rate_limit_headers(client):
    response = client.get("/v1/models")
    assert response.status_code == 401
    assert "x-ratelimit-limit-requests" not in response
