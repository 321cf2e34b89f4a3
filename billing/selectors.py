"""Reads for plan limits, the quota and the usage log."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import Tenant

from .models import (
    DASHBOARD_ENDPOINT,
    DEFAULT_PLAN,
    LIMIT_FIELDS,
    Plan,
    PlanOverride,
    QuotaPeriod,
    UsageRecord,
)
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
    # And the plan and override the instance may hold (loaded with it, or set by the change):
    # the same caches _tenant_limits reads.
    for cache in (Tenant.plan.field, Tenant.plan_override.related):
        if cache.is_cached(tenant):
            cache.delete_cached_value(tenant)


def _tenant_limits(tenant: Tenant) -> Limits:
    # The API key's lookup brings the plan and the override with the tenant (one query for
    # the three, accounts.selectors.api_key_find); a tenant loaded otherwise reads them here.
    if Tenant.plan.field.is_cached(tenant):
        plan = tenant.plan
    else:
        plan = Plan.objects.filter(pk=tenant.plan_id).first() if tenant.plan_id else None
    plan = plan or plan_default()
    values = {name: getattr(plan, name) for name in LIMIT_FIELDS}
    if Tenant.plan_override.related.is_cached(tenant):
        override = Tenant.plan_override.related.get_cached_value(tenant)
    else:
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
# Requests that submit audio (transcriptions, translations, async jobs, and uploads from the
# dashboard's "New transcription" page, whose rows have the endpoint "dashboard"), whatever
# their outcome. Job polls, job lists and deletions, /v1/models and /v1/usage are other
# requests: they bill nothing and must not be counted as transcriptions.
TRANSCRIPTION_REQUEST = Q(method="POST") & (
    Q(endpoint__startswith="/v1/audio/") | Q(endpoint=DASHBOARD_ENDPOINT)
)


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
            transcriptions=Count("id", filter=TRANSCRIPTION_REQUEST),
            successful_transcriptions=Count("id", filter=TRANSCRIPTION_REQUEST & SUCCESSFUL),
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
            "transcriptions": row["transcriptions"],
            "successful_transcriptions": row["successful_transcriptions"],
            "audio_seconds": round(row["audio_seconds"], 3),
            "billed_seconds": row["billed_seconds"],
        }
        for row in rows
    ]


@dataclass
class UsageGroup:
    """The usage of one day, key or model in a date range (sums of GET /v1/usage's rows)."""

    label: str  # the day (YYYY-MM-DD), the key's prefix, or the model
    name: str = ""  # the key's name; empty for days and models
    requests: int = 0
    successful_requests: int = 0
    transcriptions: int = 0
    successful_transcriptions: int = 0
    audio_seconds: float = 0.0
    billed_seconds: int = 0

    @property
    def other_requests(self) -> int:
        return self.requests - self.transcriptions

    @property
    def audio_minutes(self) -> float:
        return round(self.audio_seconds / 60, 2)

    def add(self, row: dict[str, Any]) -> None:
        for name in (
            "requests",
            "successful_requests",
            "transcriptions",
            "successful_transcriptions",
            "billed_seconds",
        ):
            setattr(self, name, getattr(self, name) + row[name])
        self.audio_seconds = round(self.audio_seconds + row["audio_seconds"], 3)


@dataclass
class UsageSummary:
    start: date
    end: date
    total: UsageGroup
    by_day: list[UsageGroup]  # every day of the range, zeros included
    by_key: list[UsageGroup]  # most audio first
    by_model: list[UsageGroup]


NO_KEY = "(no key)"
NO_MODEL = "(none)"


def usage_summary(*, tenant: Tenant, start: date, end: date) -> UsageSummary:
    """The tenant's usage from start to end inclusive, totalled by day, key and model: the
    same rows as GET /v1/usage (usage_by_day_key_model), only added up differently."""
    rows = usage_by_day_key_model(tenant=tenant, start=start, end=end)
    total = UsageGroup(label="total")
    days: dict[date, UsageGroup] = {}
    day = start
    while day <= end:
        days[day] = UsageGroup(label=day.isoformat())
        day += timedelta(days=1)
    keys: dict[str, UsageGroup] = {}
    models: dict[str, UsageGroup] = {}
    for row in rows:
        total.add(row)
        days[row["day"]].add(row)
        key = row["api_key"] or NO_KEY
        keys.setdefault(key, UsageGroup(label=key, name=row["api_key_name"] or "")).add(row)
        model = row["model"] or NO_MODEL
        models.setdefault(model, UsageGroup(label=model)).add(row)

    def ranked(groups: dict[str, UsageGroup]) -> list[UsageGroup]:
        return sorted(groups.values(), key=lambda g: (-g.audio_seconds, -g.requests, g.label))

    return UsageSummary(
        start=start,
        end=end,
        total=total,
        by_day=list(days.values()),
        by_key=ranked(keys),
        by_model=ranked(models),
    )


def usage_by_key_prefix(*, tenant: Tenant, start: date, end: date) -> dict[str, UsageGroup]:
    """The usage of each of the tenant's keys from start to end, by key prefix."""
    summary = usage_summary(tenant=tenant, start=start, end=end)
    return {group.label: group for group in summary.by_key}


def usage_record_search(
    *,
    tenant: Tenant,
    api_key_id: int | None = None,
    endpoint: str = "",
    status: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[UsageRecord]:
    """The tenant's usage-log rows, newest first, refused requests included. `status` is
    "ok", "error", or a status code such as "429"."""
    records = UsageRecord.objects.filter(tenant=tenant).select_related("api_key")
    if api_key_id:
        records = records.filter(api_key_id=api_key_id)
    if endpoint:
        records = records.filter(endpoint=endpoint)
    if status == "ok":
        records = records.filter(SUCCESSFUL)
    elif status == "error":
        records = records.exclude(SUCCESSFUL)
    elif status.isdigit():
        records = records.filter(status_code=int(status))
    if date_from:
        records = records.filter(created_at__gte=_day_range(date_from, date_from)[0])
    if date_to:
        records = records.filter(created_at__lt=_day_range(date_to, date_to)[1])
    return records.order_by("-created_at", "-id")


def usage_endpoint_list(*, tenant: Tenant) -> list[str]:
    """The endpoints the tenant's requests went to (the request log's filter choices)."""
    return list(
        UsageRecord.objects.filter(tenant=tenant)
        .order_by("endpoint")
        .values_list("endpoint", flat=True)
        .distinct()
    )


def usage_status_list(*, tenant: Tenant) -> list[int]:
    return list(
        UsageRecord.objects.filter(tenant=tenant)
        .order_by("status_code")
        .values_list("status_code", flat=True)
        .distinct()
    )
