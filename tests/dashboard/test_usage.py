"""Usage (audio minutes per day, as an SVG chart) and the month's billing figures, with CSV."""

import csv
import io
import re

import pytest
from django.utils import timezone

from billing.reports import ROUNDING_RULE, billing_csv, billing_report
from tests.dashboard.conftest import transcribe

pytestmark = pytest.mark.django_db(transaction=True)


def bars(html: str) -> dict[str, float]:
    """day -> minutes of the chart's drawn bars."""
    return {
        day: float(value)
        for day, value in re.findall(
            r'class="bar"[^>]*data-day="([\d-]+)" data-value="([\d.]+)"', html
        )
    }


def test_an_empty_month(alice_client):
    response = alice_client.get("/usage/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="usage-chart"' in html and bars(html) == {}
    assert "No audio in this period" in html
    assert "No requests in" in html


def test_the_chart_and_figures_follow_real_requests(alice_client, api_a, tenant_a):
    transcribe(api_a)
    transcribe(api_a)
    today = timezone.now().date()
    html = alice_client.get("/usage/").content.decode()

    (row,) = billing_report(year=today.year, month=today.month, tenant=tenant_a)
    assert row.requests == 2 and row.billed_seconds == 22
    drawn = bars(html)
    assert list(drawn) == [today.isoformat()]  # one bar: today
    assert drawn[today.isoformat()] == pytest.approx(22 / 60, abs=0.01)  # audio minutes
    assert re.search(r'data-testid="billing-requests">2<', html)
    assert f'data-testid="billing-minutes">{row.billed_minutes} min<' in html
    assert f"{row.amount} {row.currency}" in html
    assert ROUNDING_RULE in html
    # the day table
    assert re.search(r'data-label="Requests">2<', html)


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


def test_months_can_be_browsed(alice_client):
    html = alice_client.get("/usage/", {"month": "2025-02"}).content.decode()
    assert "February 2025" in html
    assert bars(html) == {} and "No audio in this period" in html
    assert 'href="?month=2025-01"' in html and 'href="?month=2025-03"' in html
    this_month = alice_client.get("/usage/").content.decode()
    assert "→</a>" not in this_month  # no next month after the current one
    assert alice_client.get("/usage/", {"month": "garbage"}).status_code == 200
