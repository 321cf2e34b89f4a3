"""API keys in the dashboard, issue 15: usage per key this month, a key's own rate limit and
expiry set by owners (and taking effect on the API), revoked keys behind a filter."""

import re
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from billing.models import UsageRecord
from billing.ratelimit import KEY_PREFIX
from dashboard.views.keys import MSG_KEYS_OWNERS_ONLY
from tests.conftest import assert_error, keyed_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


@pytest.fixture
def api_a(api_a):
    """Tenant A's key with empty rate-limit buckets: they are keyed by row ids, which a new
    test database hands out again. Only these buckets are deleted, never the whole cache (on
    Redis, which other processes may share, that would be a FLUSHDB)."""
    buckets = [f"{KEY_PREFIX}:key:{api_a.api_key.pk}", f"{KEY_PREFIX}:tenant:{api_a.tenant.pk}"]
    cache.delete_many(buckets)
    yield api_a
    cache.delete_many(buckets)


def row(html: str, prefix: str) -> str:
    match = re.search(rf'<tr data-prefix="{re.escape(prefix)}">(.*?)</tr>', html, re.S)
    assert match, prefix
    return match.group(1)


def test_an_owner_sets_a_key_limit_and_the_api_enforces_it(alice_client, api_a):
    response = alice_client.post(
        f"/keys/{api_a.api_key.pk}/limits/",
        {
            f"key{api_a.api_key.pk}-requests_per_minute": "2",
            f"key{api_a.api_key.pk}-expires_on": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 requests per minute" in html and "never expires" in html
    assert "2/min" in row(html, api_a.api_key.prefix)
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.requests_per_minute == 2 and api_a.api_key.expires_at is None

    assert api_a.client.get("/v1/models").status_code == 200
    second = api_a.client.get("/v1/models")
    assert second["x-ratelimit-limit-requests"] == "2"
    refused = api_a.client.get("/v1/models")
    error = assert_error(refused, 429, code="rate_limit_exceeded", type="requests")
    assert f"API key {api_a.api_key.prefix}" in error["message"]
    # Another key of the same tenant has no such limit.
    other = keyed_client(api_a.tenant)
    assert other.client.get("/v1/models").status_code == 200


def test_an_expiry_set_in_the_dashboard_refuses_the_key_from_that_day(alice_client, api_a):
    pk = api_a.api_key.pk
    alice_client.post(f"/keys/{pk}/limits/", {f"key{pk}-expires_on": "2020-01-01"})
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.expires_at == datetime(2020, 1, 1, tzinfo=UTC)
    assert_error(api_a.client.get("/v1/models"), 401, code="invalid_api_key")
    # Cleared again: the key works.
    alice_client.post(f"/keys/{pk}/limits/", {f"key{pk}-expires_on": ""})
    assert api_a.client.get("/v1/models").status_code == 200


def test_an_invalid_limit_is_refused_with_a_message(alice_client, api_a):
    pk = api_a.api_key.pk
    response = alice_client.post(
        f"/keys/{pk}/limits/", {f"key{pk}-requests_per_minute": "0"}, follow=True
    )
    assert "not changed" in response.content.decode()
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.requests_per_minute is None


def test_a_member_cannot_change_limits(bob_client, api_a):
    pk = api_a.api_key.pk
    response = bob_client.post(f"/keys/{pk}/limits/", {f"key{pk}-requests_per_minute": "1"})
    assert response.status_code == 403
    assert MSG_KEYS_OWNERS_ONLY.format(tenant="Acme") in response.content.decode()
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.requests_per_minute is None


def test_another_tenant_s_key_is_a_404(charlie_client, api_a):
    pk = api_a.api_key.pk
    response = charlie_client.post(f"/keys/{pk}/limits/", {f"key{pk}-requests_per_minute": "1"})
    assert response.status_code == 404
    api_a.api_key.refresh_from_db()
    assert api_a.api_key.requests_per_minute is None


def test_limits_are_a_post(alice_client, api_a):
    assert alice_client.get(f"/keys/{api_a.api_key.pk}/limits/").status_code == 405


def test_each_key_shows_its_requests_and_audio_this_month(alice_client, api_a, tenant_a):
    from tests.dashboard.conftest import transcribe

    transcribe(api_a)
    api_a.client.get("/v1/models")
    quiet, _ = api_key_create(tenant=tenant_a, name="quiet")
    html = alice_client.get("/keys/").content.decode()
    first = timezone.now().date().replace(day=1)
    rows = UsageRecord.objects.filter(api_key=api_a.api_key, created_at__date__gte=first)
    minutes = round(sum(r.audio_seconds or 0 for r in rows) / 60, 2)
    used = row(html, api_a.api_key.prefix)
    assert f'data-testid="key-requests">{rows.count()}<' in used and rows.count() == 2
    assert f'data-testid="key-minutes">{minutes}<' in used and minutes > 0
    assert 'data-testid="key-requests">0<' in row(html, quiet.prefix)


def test_revoked_keys_are_behind_a_filter(alice_client, api_a, tenant_a):
    old, _ = api_key_create(tenant=tenant_a, name="old")
    api_key_revoke(prefix=old.prefix)
    html = alice_client.get("/keys/").content.decode()
    assert f'data-prefix="{api_a.api_key.prefix}"' in html
    assert f'data-prefix="{old.prefix}"' not in html
    assert "Revoked (1)" in html
    revoked = alice_client.get("/keys/", {"show": "revoked"}).content.decode()
    assert f'data-prefix="{old.prefix}"' in revoked
    assert f'data-prefix="{api_a.api_key.prefix}"' not in revoked
    every = alice_client.get("/keys/", {"show": "all"}).content.decode()
    assert (
        f'data-prefix="{old.prefix}"' in every and f'data-prefix="{api_a.api_key.prefix}"' in every
    )
    assert ApiKey.objects.filter(tenant=tenant_a).count() == 2
