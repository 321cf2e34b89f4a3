"""The usage page: any date range, audio minutes per day as an SVG chart, breakdowns by key
and by model, the quota meter, transcriptions counted apart from other requests, and CSV by
day, key and model. Every figure is checked against the usage-log rows themselves."""

import csv
import io
import re
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.services import api_key_create
from billing.models import QuotaPeriod, UsageRecord
from billing.reports import ROUNDING_RULE, billing_csv, billing_report
from billing.services.usage import usage_record_create
from dashboard.ranges import (
    MAX_RANGE_DAYS,
    MSG_BAD_DATE,
    MSG_END_BEFORE_START,
    MSG_NEEDS_BOTH,
    MSG_TOO_LONG,
    MSG_UNKNOWN_PRESET,
)
from tests.dashboard.conftest import transcribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def bars(html: str) -> dict[str, float]:
    """day -> minutes of the chart's drawn bars."""
    return {
        day: float(value)
        for day, value in re.findall(
            r'class="bar"[^>]*data-day="([\d-]+)" data-value="([\d.]+)"', html
        )
    }


def shown(html: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def logged(tenant, api_key, *, day, endpoint="/v1/audio/transcriptions", method="POST",
           status=200, model="tiny.en", audio=None, billed=0, error=""):  # fmt: skip
    """A usage-log row as the middleware writes it, on an earlier day (the API cannot)."""
    return usage_record_create(
        request_id=f"req_{uuid.uuid4().hex}",
        method=method,
        endpoint=endpoint,
        status_code=status,
        tenant=tenant,
        api_key=api_key,
        model=model,
        error_code=error,
        audio_seconds=audio,
        billed_seconds=billed,
        created_at=datetime.combine(day, time(12), tzinfo=UTC),
    )


def breakdown(html: str, name: str) -> dict[str, tuple[str, str, str]]:
    """label -> (transcriptions, other requests, billed seconds) of a breakdown table."""
    section = html.split(f'data-testid="{name}"', 1)[1].split("</section>", 1)[0]
    return {
        label: (transcriptions, other, billed)
        for label, transcriptions, other, billed in re.findall(
            r'<tr data-group="([^"]+)">.*?data-label="Transcriptions">(\d+)<.*?'
            r'data-label="Other">(\d+)<.*?data-label="Billed s">(\d+)<',
            section,
            re.S,
        )
    }


def rows_between(tenant, start, end):
    begin = datetime.combine(start, time.min, tzinfo=UTC)
    stop = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    return UsageRecord.objects.filter(tenant=tenant, created_at__gte=begin, created_at__lt=stop)


def test_an_empty_month(alice_client):
    response = alice_client.get("/usage/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="usage-chart"' in html and bars(html) == {}
    assert "No audio in this period" in html
    assert "No requests in this period" in html
    assert shown(html, "usage-transcriptions") == "0"


def test_transcriptions_are_counted_apart_from_polls_models_and_usage(
    alice_client, api_a, tenant_a
):
    transcribe(api_a)
    transcribe(api_a)
    # Three requests that bill nothing and are not transcriptions.
    assert api_a.client.get("/v1/models").status_code == 200
    assert api_a.client.get("/v1/usage").status_code == 200
    assert api_a.client.get("/v1/models/tiny.en").status_code == 200
    today = timezone.now().date()
    html = alice_client.get("/usage/").content.decode()

    rows = rows_between(tenant_a, today.replace(day=1), today)
    posts = rows.filter(method="POST", endpoint__startswith="/v1/audio/")
    assert rows.count() == 5 and posts.count() == 2
    assert shown(html, "usage-transcriptions") == "2"
    assert shown(html, "usage-successful-transcriptions") == "2"
    assert shown(html, "usage-other-requests") == "3"
    billed = rows.aggregate(s=Sum("billed_seconds"))["s"]
    assert billed == 22
    assert shown(html, "usage-billed-seconds") == f"{billed} s"
    drawn = bars(html)
    assert list(drawn) == [today.isoformat()]  # one bar: today
    audio = rows.aggregate(s=Sum("audio_seconds"))["s"]
    assert drawn[today.isoformat()] == pytest.approx(audio / 60, abs=0.01)
    # The month's billing still counts every request, as the billing report does.
    (row,) = billing_report(year=today.year, month=today.month, tenant=tenant_a)
    assert shown(html, "billing-requests") == str(row.requests) == "5"
    assert f"{row.amount} {row.currency}" in html
    assert ROUNDING_RULE in html


def test_a_date_range_changes_the_figures(alice_client, api_a, tenant_a):
    today = timezone.now().date()
    old = today - timedelta(days=20)
    logged(tenant_a, api_a.api_key, day=old, audio=60.0, billed=60)
    logged(tenant_a, api_a.api_key, day=old, audio=30.0, billed=30, model="base")
    logged(tenant_a, api_a.api_key, day=old, endpoint="/v1/audio/jobs/<str:job_id>",
           method="GET", model="base")  # fmt: skip
    logged(tenant_a, api_a.api_key, day=old, status=429, error="rate_limit_exceeded")
    recent = today - timedelta(days=2)
    logged(tenant_a, api_a.api_key, day=recent, audio=12.0, billed=12)

    html = alice_client.get("/usage/", {"range": "last-7"}).content.decode()
    assert shown(html, "usage-transcriptions") == "1"
    assert shown(html, "usage-billed-seconds") == "12 s"
    assert bars(html) == {recent.isoformat(): 0.2}

    html = alice_client.get("/usage/", {"range": "last-30"}).content.decode()
    rows = rows_between(tenant_a, today - timedelta(days=29), today)
    assert shown(html, "usage-transcriptions") == "4"  # the 429 too: a refused transcription
    assert shown(html, "usage-successful-transcriptions") == "3"
    assert shown(html, "usage-other-requests") == "1"
    assert (
        shown(html, "usage-billed-seconds") == f"{rows.aggregate(s=Sum('billed_seconds'))['s']} s"
    )
    assert bars(html) == {old.isoformat(): 1.5, recent.isoformat(): 0.2}

    html = alice_client.get(
        "/usage/", {"from": old.isoformat(), "to": old.isoformat()}
    ).content.decode()
    assert shown(html, "usage-billed-seconds") == "90 s"
    assert "(1 day, UTC)" in html
    # by model: tiny.en 60 s and a refused transcription; base 30 s and a poll
    assert breakdown(html, "by-model") == {"tiny.en": ("2", "0", "60"), "base": ("1", "1", "30")}
    assert breakdown(html, "by-key") == {api_a.api_key.prefix: ("3", "1", "90")}


def test_an_invalid_date_is_an_error_on_the_page(alice_client):
    html = alice_client.get("/usage/", {"from": "2026-02-30", "to": "2026-03-01"}).content.decode()
    assert 'data-testid="range-errors"' in html
    assert MSG_BAD_DATE.format(value="2026-02-30") in html
    assert "Showing this month instead." in html

    html = alice_client.get("/usage/", {"from": "2026-03-05", "to": "2026-03-01"}).content.decode()
    assert MSG_END_BEFORE_START.format(start="2026-03-05", end="2026-03-01") in html
    html = alice_client.get("/usage/", {"month": "garbage"}).content.decode()
    assert "is not a month" in html
    html = alice_client.get("/usage/", {"range": "last-9000"}).content.decode()
    assert MSG_UNKNOWN_PRESET.format(value="last-9000") in html
    html = alice_client.get("/usage/", {"from": "2026-03-01"}).content.decode()
    assert MSG_NEEDS_BOTH in html
    html = alice_client.get("/usage/", {"from": "2020-01-01", "to": "2026-01-01"}).content.decode()
    assert MSG_TOO_LONG.format(days=MAX_RANGE_DAYS) in html
    html = alice_client.get("/usage/", {"range": "last-7"}).content.decode()
    assert 'data-testid="range-errors"' not in html


def test_the_quota_meter_shows_the_quota_row(alice_client, tenant_a):
    period = timezone.now().date().replace(day=1)
    QuotaPeriod.objects.create(
        tenant=tenant_a, period=period, used_seconds=7200, reserved_seconds=600
    )
    html = alice_client.get("/usage/").content.decode()
    assert shown(html, "quota-used") == "7200 s"
    assert shown(html, "quota-reserved") == "600 s"
    assert shown(html, "quota-limit") == "360000 s"  # the default plan: 100 hours
    assert shown(html, "quota-remaining") == f"{360000 - 7200 - 600} s"
    assert shown(html, "quota-plan") == "default"
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    assert shown(html, "quota-resets") == f"{year:04d}-{month:02d}-01"


def test_csv_by_day_key_and_model_add_up_the_log(alice_client, api_a, tenant_a):
    today = timezone.now().date()
    day = today - timedelta(days=3)
    other, _ = api_key_create(tenant=tenant_a, name="ci")
    logged(tenant_a, api_a.api_key, day=day, audio=61.5, billed=62)
    logged(tenant_a, other, day=day, audio=10.0, billed=10, model="base")
    logged(tenant_a, other, day=today, endpoint="/v1/models", method="GET", model="")
    query = {"from": day.isoformat(), "to": today.isoformat()}

    response = alice_client.get("/usage/usage.csv", {**query, "by": "day"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        f'filename="usage-acme-by-day-{day:%Y%m%d}-{today:%Y%m%d}.csv"'
        in (response["Content-Disposition"])
    )
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [line["day"] for line in lines] == [
        (day + timedelta(days=i)).isoformat() for i in range(4)
    ]
    assert lines[0]["transcriptions"] == "2" and lines[0]["billed_seconds"] == "72"
    assert lines[0]["audio_seconds"] == "71.5"
    assert lines[-1]["requests"] == "1" and lines[-1]["other_requests"] == "1"
    assert lines[-1]["transcriptions"] == "0"

    lines = list(
        csv.DictReader(io.StringIO(alice_client.get("/usage/usage.csv", {**query, "by": "key"})
                                   .content.decode()))
    )  # fmt: skip
    by_key = {line["api_key"]: line for line in lines}
    assert set(by_key) == {api_a.api_key.prefix, other.prefix}
    for line in lines:
        rows = UsageRecord.objects.filter(tenant=tenant_a, api_key__prefix=line["api_key"])
        assert int(line["requests"]) == rows.count()
        assert int(line["billed_seconds"]) == rows.aggregate(s=Sum("billed_seconds"))["s"]
    assert by_key[other.prefix]["name"] == "ci"

    body = alice_client.get("/usage/usage.csv", {**query, "by": "model"}).content.decode()
    by_model = {line["model"]: line for line in csv.DictReader(io.StringIO(body))}
    assert by_model["tiny.en"]["billed_seconds"] == "62"
    assert by_model["base"]["billed_seconds"] == "10"
    assert by_model["(none)"]["other_requests"] == "1"

    assert alice_client.get("/usage/usage.csv", {"by": "tenant"}).status_code == 404
    bad = alice_client.get("/usage/usage.csv", {"from": "yesterday", "to": "today"})
    assert bad.status_code == 400 and b"is not a date" in bad.content


def test_the_usage_csv_is_only_the_own_tenant_s(charlie_client, api_a, tenant_a):
    logged(tenant_a, api_a.api_key, day=timezone.now().date(), audio=11.0, billed=11)
    body = charlie_client.get("/usage/usage.csv", {"by": "key"}).content.decode()
    assert api_a.api_key.prefix not in body
    assert list(csv.DictReader(io.StringIO(body))) == []


def test_csv_download_is_the_billing_report(alice_client, api_a, tenant_a):
    transcribe(api_a)
    today = timezone.now().date()
    response = alice_client.get("/usage/billing.csv", {"month": f"{today:%Y-%m}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="billing-acme-{today:%Y-%m}.csv"'
    )
    body = response.content.decode()
    assert body == billing_csv(billing_report(year=today.year, month=today.month, tenant=tenant_a))
    (line,) = list(csv.DictReader(io.StringIO(body)))
    assert line["tenant"] == "acme" and line["requests"] == "1" and line["billed_seconds"] == "11"


def test_a_member_gets_only_the_own_tenant_csv(charlie_client, api_a):
    transcribe(api_a)
    response = charlie_client.get("/usage/billing.csv", {"all": "1"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["tenant"] for row in rows] == ["globex"]
    assert rows[0]["requests"] == "0"


def test_staff_get_every_tenant_in_one_csv(staff_client, api_a):
    transcribe(api_a)
    response = staff_client.get("/usage/billing.csv", {"all": "1"})
    assert 'filename="billing-all-tenants-' in response["Content-Disposition"]
    rows = {row["tenant"]: row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert {"acme", "globex"} <= set(rows)
    assert rows["acme"]["billed_seconds"] == "11"


def test_a_month_can_still_be_linked(alice_client):
    html = alice_client.get("/usage/", {"month": "2025-02"}).content.decode()
    assert "Feb 1, 2025 \u2013 Feb 28, 2025" in html
    assert bars(html) == {} and "No audio in this period" in html
    assert 'href="?range=last-month"' in html and 'href="?range=last-7"' in html


def test_an_upload_from_the_dashboard_is_a_transcription(alice_client, tenant_a):
    # The row the dashboard's upload page writes: no key, endpoint "dashboard".
    logged(tenant_a, None, day=timezone.now().date(), endpoint="dashboard", audio=11.0, billed=11)
    html = alice_client.get("/usage/").content.decode()
    assert shown(html, "usage-transcriptions") == "1"
    assert shown(html, "usage-other-requests") == "0"
    assert breakdown(html, "by-key") == {"(no key)": ("1", "0", "11")}


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_usage_csv_cells_never_start_a_formula(alice_client, api_a, tenant_a, formula):
    """The model is the raw form value and the key name the tenant's own text: a spreadsheet
    must read them as text."""
    key, _ = api_key_create(tenant=tenant_a, name=formula)
    logged(tenant_a, key, day=timezone.now().date(), model=formula, audio=1.0, billed=1)
    by_model = alice_client.get("/usage/usage.csv", {"by": "model"}).content.decode()
    models = {line["model"] for line in csv.DictReader(io.StringIO(by_model, newline=""))}
    assert "'" + formula in models and formula not in models
    by_key = alice_client.get("/usage/usage.csv", {"by": "key"}).content.decode()
    names = {line["name"] for line in csv.DictReader(io.StringIO(by_key, newline=""))}
    assert "'" + formula in names and formula not in names
