"""The billing report on a small fixture month whose figures are worked out by hand below,
its CSV and JSON forms, the management command, the dashboard's daily series and
GET /v1/usage."""

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.services import api_key_create
from api.views.usage import MSG_BAD_DATE, MSG_BAD_RANGE
from billing.models import Plan
from billing.reports import ROUNDING_RULE, BillingRow, billing_csv, billing_report
from billing.selectors import usage_by_day
from billing.services import plan_override_set, tenant_plan_set, usage_record_create
from tests.billing.conftest import transcribe
from tests.conftest import assert_error, keyed_client
from tests.factories import TenantFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

_ids = iter(range(1, 10_000))


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, month: int = 11, micro=0):
    return datetime(2026, month, day, hour, minute, second, micro, tzinfo=UTC)


def record(tenant, when, *, status=200, billed=0, error="", key=None, model="whisper-1", **extra):
    return usage_record_create(
        request_id=f"req_fixture_{next(_ids)}",
        method="POST",
        endpoint="/v1/audio/transcriptions",
        status_code=status,
        tenant=tenant,
        api_key=key,
        model=model,
        error_code=error,
        billed_seconds=billed,
        audio_seconds=None if billed is None else float(billed),
        created_at=when,
        **extra,
    )


@pytest.fixture
def fixture_month():
    """November 2026, by hand:

    acme (plan "pro", 0.0240/min): 8 requests in the month, 6 successful (the 500 and the
      429 are not; the GET, the replay and the still-pending 200 are), billed 11 + 61 + 3600
      = 3672 s = 61.20 min; amount 3672 x 0.0240 / 60 = 1.4688 -> 1.47.
    closed (inactive, default plan 0.0060/min): 1 request, 30 s = 0.50 min;
      30 x 0.0060 / 60 = 0.003 -> 0.00.
    globex (default plan, overridden to 0.0060/min): 2 requests billed 1250 s = 20.83 min;
      1250 x 0.0060 / 60 = 0.125 -> 0.13 (half up, where half-even would give 0.12).
    idle (active, no requests): zeros. dormant (inactive, no requests): not listed.
    Rows in October and December, and a request without a tenant, count nowhere.
    """
    pro = Plan.objects.create(
        slug="pro",
        name="Pro",
        monthly_audio_seconds=100_000,
        requests_per_minute=600,
        concurrent_jobs=8,
        max_file_bytes=26_214_400,
        max_audio_seconds=7200,
        price_per_minute=Decimal("0.0240"),
        retention_days=30,
    )
    acme = TenantFactory(slug="acme")
    tenant_plan_set(tenant=acme, plan=pro)
    key, _ = api_key_create(tenant=acme, name="ci")
    globex = TenantFactory(slug="globex")
    plan_override_set(tenant=globex, price_per_minute=Decimal("0.0060"))
    closed = TenantFactory(slug="closed", is_active=False)
    TenantFactory(slug="idle")
    TenantFactory(slug="dormant", is_active=False)

    record(acme, at(1, 0, 0, 0), billed=11, key=key)  # the month's first instant
    record(acme, at(2), billed=61, key=key)
    record(acme, at(2), status=500, error="engine_error", key=key)
    record(acme, at(3), status=429, error="insufficient_quota")
    usage_record_create(
        request_id="req_fixture_get",
        method="GET",
        endpoint="/v1/models",
        status_code=200,
        tenant=acme,
        created_at=at(3),
    )
    record(acme, at(15), status=202, billed=3600, model="tiny.en")
    record(acme, at(15), billed=0, replayed=True)
    record(acme, at(30, 23, 59, 59, micro=999_999), billed=None)  # pending: a job still running
    record(acme, at(1, 0, 0, 0, month=12), billed=500)  # next month
    record(acme, at(31, 23, 59, 59, month=10), billed=700)  # last month
    record(closed, at(20), billed=30)
    record(globex, at(5), billed=1000)
    record(globex, at(6), billed=250)
    record(None, at(7), status=401, error="invalid_api_key")
    return {"acme": acme, "globex": globex}


def row(**values) -> BillingRow:
    base = {"month": "2026-11", "currency": "USD"}
    return BillingRow(**{**base, **values})


EXPECTED = [
    row(
        tenant="acme",
        plan="pro",
        requests=8,
        successful_requests=6,
        billed_seconds=3672,
        billed_minutes=Decimal("61.20"),
        price_per_minute=Decimal("0.0240"),
        amount=Decimal("1.47"),
    ),
    row(
        tenant="closed",
        plan="default",
        requests=1,
        successful_requests=1,
        billed_seconds=30,
        billed_minutes=Decimal("0.50"),
        price_per_minute=Decimal("0.0060"),
        amount=Decimal("0.00"),
    ),
    row(
        tenant="globex",
        plan="default",
        requests=2,
        successful_requests=2,
        billed_seconds=1250,
        billed_minutes=Decimal("20.83"),
        price_per_minute=Decimal("0.0060"),
        amount=Decimal("0.13"),
    ),
    row(
        tenant="idle",
        plan="default",
        requests=0,
        successful_requests=0,
        billed_seconds=0,
        billed_minutes=Decimal("0.00"),
        price_per_minute=Decimal("0.0060"),
        amount=Decimal("0.00"),
    ),
]


def test_the_report_matches_the_figures_worked_out_by_hand(fixture_month):
    assert billing_report(year=2026, month=11) == EXPECTED


def test_one_tenant_only(fixture_month):
    assert billing_report(year=2026, month=11, tenant=fixture_month["globex"]) == [EXPECTED[2]]


def test_the_rounding_rule_is_stated():
    assert "rounded up to the next whole second" in ROUNDING_RULE
    assert "rounded half up to the cent" in ROUNDING_RULE


def test_the_csv_parses_back_to_the_same_figures(fixture_month):
    text = billing_csv(billing_report(year=2026, month=11))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [line["tenant"] for line in parsed] == ["acme", "closed", "globex", "idle"]
    assert parsed[0] == {
        "tenant": "acme",
        "month": "2026-11",
        "plan": "pro",
        "requests": "8",
        "successful_requests": "6",
        "billed_seconds": "3672",
        "billed_minutes": "61.20",
        "price_per_minute": "0.0240",
        "currency": "USD",
        "amount": "1.47",
    }
    assert sum(Decimal(line["amount"]) for line in parsed) == Decimal("1.60")


def test_the_command_in_its_three_formats(fixture_month):
    out = io.StringIO()
    call_command("billing_report", "--month", "2026-11", "--format", "csv", stdout=out)
    assert out.getvalue() == billing_csv(EXPECTED)

    out = io.StringIO()
    call_command("billing_report", "--month", "2026-11", "--format", "json", stdout=out)
    payload = json.loads(out.getvalue())
    assert payload["month"] == "2026-11" and payload["rounding_rule"] == ROUNDING_RULE
    assert payload["rows"] == [expected.as_dict() for expected in EXPECTED]
    assert payload["rows"][2]["amount"] == "0.13"

    out = io.StringIO()
    call_command("billing_report", "--month", "2026-11", "--tenant", "acme", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "tenant", "month", "plan", "requests", "successful", "billed", "s", "billed", "min",
        "price/min", "cur", "amount",
    ]  # fmt: skip
    assert lines[2].split() == [
        "acme", "2026-11", "pro", "8", "6", "3672", "61.20", "0.0240", "USD", "1.47",
    ]  # fmt: skip
    assert lines[-1] == f"Rounding: {ROUNDING_RULE}"


def test_the_command_refuses_a_bad_month_or_tenant(db):
    with pytest.raises(CommandError, match="not a month as YYYY-MM"):
        call_command("billing_report", "--month", "2026-13")
    with pytest.raises(CommandError, match="No tenant 'nobody'"):
        call_command("billing_report", "--tenant", "nobody")


def test_daily_series_for_the_dashboard(fixture_month):
    days = usage_by_day(
        tenant=fixture_month["acme"], start=date(2026, 11, 1), end=date(2026, 11, 4)
    )
    assert days == [
        {"day": date(2026, 11, 1), "requests": 1, "audio_seconds": 11.0, "billed_seconds": 11},
        {"day": date(2026, 11, 2), "requests": 2, "audio_seconds": 61.0, "billed_seconds": 61},
        {"day": date(2026, 11, 3), "requests": 2, "audio_seconds": 0.0, "billed_seconds": 0},
        {"day": date(2026, 11, 4), "requests": 0, "audio_seconds": 0.0, "billed_seconds": 0},
    ]


# --- GET /v1/usage ------------------------------------------------------------------------------


def test_a_tenant_sees_its_own_usage_by_day_key_and_model(api_a, tenant_b):
    second = keyed_client(api_a.tenant)
    assert transcribe(api_a).status_code == 200
    assert transcribe(second, model="whisper-1").status_code == 200
    api_a.client.get("/v1/models")
    transcribe(keyed_client(tenant_b))  # another tenant's: never shown
    body = api_a.client.get("/v1/usage").json()
    today = timezone.now().date()
    assert body["object"] == "list" and body["has_more"] is False
    assert (body["start_date"], body["end_date"]) == (
        today.replace(day=1).isoformat(),
        today.isoformat(),
    )
    data = sorted(body["data"], key=lambda item: (item["api_key"], item["model"]))
    expected = sorted(
        [
            (api_a.api_key.prefix, "", 1, 1, 0),
            (api_a.api_key.prefix, "tiny.en", 1, 1, 11),
            (second.api_key.prefix, "whisper-1", 1, 1, 11),
        ]
    )
    assert [
        (d["api_key"], d["model"], d["requests"], d["successful_requests"], d["billed_seconds"])
        for d in data
    ] == expected
    assert {d["day"] for d in data} == {today.isoformat()}
    assert {d["object"] for d in data} == {"usage.record"}
    quota = body["quota"]
    assert (quota["plan"], quota["used_seconds"], quota["reserved_seconds"]) == ("default", 22, 0)
    assert quota["remaining_seconds"] == quota["limit_seconds"] - 22
    assert quota["resets_at"].endswith("T00:00:00Z")


def test_usage_dates_are_validated(api_a):
    assert_error(
        api_a.client.get("/v1/usage", {"start_date": "yesterday"}),
        400,
        code="invalid_value",
        param="start_date",
        message=MSG_BAD_DATE.format(param="start_date", value="yesterday"),
    )
    assert_error(
        api_a.client.get("/v1/usage", {"start_date": "2026-11-10", "end_date": "2026-11-01"}),
        400,
        code="invalid_value",
        param="end_date",
        message=MSG_BAD_RANGE.format(start="2026-11-10", end="2026-11-01"),
    )
    assert api_a.client.get("/v1/usage", {"start_date": "2025-01-01"}).status_code == 400


def test_usage_needs_a_key(client):
    assert client.get("/v1/usage").status_code == 401


def test_csv_cells_never_start_a_formula():
    """Every CSV of the billing report (admin, command, dashboard) goes through billing_csv."""
    row = BillingRow(
        tenant="-evil",
        month="2026-11",
        plan='=HYPERLINK("http://evil.example")',
        requests=1,
        successful_requests=1,
        billed_seconds=1,
        billed_minutes=Decimal("0.02"),
        price_per_minute=Decimal("0.0060"),
        currency="@SUM(A1)",
        amount=Decimal("0.00"),
    )
    [line] = csv.DictReader(io.StringIO(billing_csv([row])))
    assert line["tenant"] == "'-evil"
    assert line["plan"] == '\'=HYPERLINK("http://evil.example")'
    assert line["currency"] == "'@SUM(A1)"
    assert line["requests"] == "1" and line["amount"] == "0.00"
