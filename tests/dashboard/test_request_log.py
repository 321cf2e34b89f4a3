"""The request log: the tenant's own usage-log rows, refused requests included, filtered by
key, endpoint, status and date, paginated; another tenant's rows never show."""

import re
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from accounts.services import api_key_create
from billing.models import UsageRecord
from billing.services.usage import usage_record_create
from dashboard.views.requests_log import PAGE_SIZE

pytestmark = pytest.mark.django_db


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-request-id="([^"]+)"', html)


def row(tenant, api_key, *, endpoint="/v1/models", method="GET", status=200, error="", day=None):
    created = datetime.combine(day, time(9), tzinfo=UTC) if day else timezone.now()
    return usage_record_create(
        request_id=f"req_{uuid.uuid4().hex}",
        method=method,
        endpoint=endpoint,
        status_code=status,
        tenant=tenant,
        api_key=api_key,
        error_code=error,
        created_at=created,
    ).request_id


def test_real_requests_are_listed_refused_ones_included(alice_client, api_a, api_b):
    api_a.client.get("/v1/models")
    api_a.client.get("/v1/models/nope")  # 404 model_not_found
    api_b.client.get("/v1/models")  # another tenant's
    html = alice_client.get("/requests/").content.decode()
    ours = list(
        UsageRecord.objects.filter(tenant=api_a.tenant)
        .order_by("-created_at", "-id")
        .values_list("request_id", flat=True)
    )
    assert listed(html) == ours and len(ours) == 2
    assert "model_not_found" in html
    theirs = UsageRecord.objects.get(tenant=api_b.tenant).request_id
    assert theirs not in html


def test_filters_by_key_endpoint_status_and_date(alice_client, tenant_a, api_a):
    other, _ = api_key_create(tenant=tenant_a, name="ci")
    today = timezone.now().date()
    models = row(tenant_a, api_a.api_key)
    refused = row(tenant_a, api_a.api_key, endpoint="/v1/audio/transcriptions", method="POST",
                  status=429, error="rate_limit_exceeded")  # fmt: skip
    by_other = row(tenant_a, other)
    old = row(tenant_a, api_a.api_key, day=today - timedelta(days=10))

    def ids(**query):
        response = alice_client.get("/requests/", query)
        assert response.status_code == 200
        return set(listed(response.content.decode()))

    assert ids() == {models, refused, by_other, old}
    assert ids(key=other.pk) == {by_other}
    assert ids(endpoint="/v1/audio/transcriptions") == {refused}
    assert ids(status="error") == {refused}
    assert ids(status="429") == {refused}
    assert ids(status="ok") == {models, by_other, old}
    assert ids(date_from=today.isoformat()) == {models, refused, by_other}
    assert ids(date_to=(today - timedelta(days=1)).isoformat()) == {old}


def test_an_invalid_filter_is_shown_not_ignored(alice_client, api_a):
    row(api_a.tenant, api_a.api_key)
    html = alice_client.get("/requests/", {"date_from": "2026-13-01"}).content.decode()
    assert 'data-testid="filter-errors"' in html and "Enter a valid date." in html
    assert listed(html) == []
    html = alice_client.get(
        "/requests/", {"date_from": "2026-03-02", "date_to": "2026-03-01"}
    ).content.decode()
    assert "The end date is before the start date." in html


def test_another_tenant_s_key_is_not_a_filter(alice_client, api_a, api_b):
    row(api_b.tenant, api_b.api_key)
    html = alice_client.get("/requests/", {"key": api_b.api_key.pk}).content.decode()
    assert 'data-testid="filter-errors"' in html  # not one of this tenant's keys
    assert listed(html) == []


def test_pages_of_fifty(alice_client, api_a):
    made = [row(api_a.tenant, api_a.api_key) for _ in range(PAGE_SIZE + 3)]
    first = alice_client.get("/requests/").content.decode()
    second = alice_client.get("/requests/", {"page": 2, "status": "ok"}).content.decode()
    assert len(listed(first)) == PAGE_SIZE and len(listed(second)) == 3
    assert set(listed(first)) | set(listed(second)) == set(made)
    assert "Page 1 of 2" in first and "status=ok" in second
