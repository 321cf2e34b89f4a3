"""Reads for plan limits, the quota and the usage log."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import Tenant

from .models import DEFAULT_PLAN, LIMIT_FIELDS, Plan, PlanOverride, QuotaPeriod, UsageRecord
from .periods import month_end, month_start


@dataclass(frozen=True)
class Limits:
    """A tenant's plan with its overrides applied: what the API enforces and bills."""

    plan: str
    monthly_audio_seconds: int
    requests_per_minute: int
    concurrent_jobs: int
    max_file_bytes: int
    max_audio_seconds: int
    price_per_minute: Decimal
    currency: str
    retention_days: int


@dataclass(frozen=True)
class QuotaStatus:
    period: date
    limit_seconds: int
    reserved_seconds: int
    used_seconds: int
    resets_at: datetime

    @property
    def remaining_seconds(self) -> int:
        return max(0, self.limit_seconds - self.reserved_seconds - self.used_seconds)


def plan_default() -> Plan:
    """The plan of tenants that have none; the built-in figures if its row is missing."""
    plan = Plan.objects.filter(is_default=True).first()
    if plan is None:
        values = {**DEFAULT_PLAN, "price_per_minute": Decimal(DEFAULT_PLAN["price_per_minute"])}
        plan = Plan(is_default=True, **values)
    return plan


_LIMITS_MEMO = "_limits_memo"


def tenant_limits(*, tenant: Tenant) -> Limits:
    """The one answer to "what may this tenant do": its plan merged with its overrides.

    One API request asks several times (rate limit, upload limit, duration, quota), so the
    answer is kept on the tenant instance, which lives as long as the request; the services
    that change a plan or an override forget it (tenant_limits_forget).
    """
    memo = tenant.__dict__.get(_LIMITS_MEMO)
    if memo is not None:
        return memo
    limits = _tenant_limits(tenant)
    tenant.__dict__[_LIMITS_MEMO] = limits
    return limits


def tenant_limits_forget(*, tenant: Tenant) -> None:
    tenant.__dict__.pop(_LIMITS_MEMO, None)


def _tenant_limits(tenant: Tenant) -> Limits:
    plan = Plan.objects.filter(pk=tenant.plan_id).first() if tenant.plan_id else None
    plan = plan or plan_default()
    values = {name: getattr(plan, name) for name in LIMIT_FIELDS}
    override = PlanOverride.objects.filter(tenant_id=tenant.pk).first()
    if override is not None:
        for name in LIMIT_FIELDS:
            if getattr(override, name) is not None:
                values[name] = getattr(override, name)
    return Limits(plan=plan.slug, currency=plan.currency, **values)


def quota_status(*, tenant: Tenant, now: datetime | None = None) -> QuotaStatus:
    """This month's allowance: what is reserved by jobs in flight, used, and left."""
    period = month_start(now or timezone.now())
    row = QuotaPeriod.objects.filter(tenant=tenant, period=period).first()
    return QuotaStatus(
        period=period,
        limit_seconds=tenant_limits(tenant=tenant).monthly_audio_seconds,
        reserved_seconds=row.reserved_seconds if row else 0,
        used_seconds=row.used_seconds if row else 0,
        resets_at=month_end(period),
    )


def _day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in UTC: every request of the days start..end inclusive."""
    begin = datetime.combine(start, time.min, tzinfo=UTC)
    return begin, datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)


def usage_records(*, tenant: Tenant, start: date, end: date) -> QuerySet[UsageRecord]:
    begin, stop = _day_range(start, end)
    return UsageRecord.objects.filter(tenant=tenant, created_at__gte=begin, created_at__lt=stop)


SUCCESSFUL = Q(status_code__lt=400, error_code="")


def usage_by_day(*, tenant: Tenant, start: date, end: date) -> list[dict[str, Any]]:
    """One entry per day from start to end inclusive (days without requests give zeros):
    {"day", "requests", "audio_seconds", "billed_seconds"}, for the dashboard's chart."""
    rows = (
        usage_records(tenant=tenant, start=start, end=end)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(
            requests=Count("id"),
            audio_seconds=Coalesce(Sum("audio_seconds"), 0.0),
            billed_seconds=Coalesce(Sum("billed_seconds"), 0),
        )
    )
    by_day = {row["day"]: row for row in rows}
    days = []
    day = start
    while day <= end:
        row = by_day.get(day, {})
        days.append(
            {
                "day": day,
                "requests": row.get("requests", 0),
                "audio_seconds": round(row.get("audio_seconds", 0.0), 3),
                "billed_seconds": row.get("billed_seconds", 0),
            }
        )
        day += timedelta(days=1)
    return days


def usage_by_day_key_model(*, tenant: Tenant, start: date, end: date) -> list[dict[str, Any]]:
    """The tenant's requests grouped by day, API key and model (GET /v1/usage)."""
    rows = (
        usage_records(tenant=tenant, start=start, end=end)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "api_key__prefix", "api_key__name", "model")
        .annotate(
            requests=Count("id"),
            successful_requests=Count("id", filter=SUCCESSFUL),
            audio_seconds=Coalesce(Sum("audio_seconds"), 0.0),
            billed_seconds=Coalesce(Sum("billed_seconds"), 0),
        )
        .order_by("day", "api_key__prefix", "model")
    )
    return [
        {
            "day": row["day"],
            "api_key": row["api_key__prefix"],
            "api_key_name": row["api_key__name"],
            "model": row["model"],
            "requests": row["requests"],
            "successful_requests": row["successful_requests"],
            "audio_seconds": round(row["audio_seconds"], 3),
            "billed_seconds": row["billed_seconds"],
        }
        for row in rows
    ]
