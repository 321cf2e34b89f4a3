"""The usage page (any date range: audio minutes per day, by key and by model, the quota
meter, the month's billing figures) and its CSV downloads. Every figure comes from billing's
selectors: the same usage-log rows as the billing report and GET /v1/usage."""

import csv
import io
from datetime import date

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from billing.periods import month_or_current
from billing.reports import ROUNDING_RULE, billing_csv, billing_report
from billing.rounding import billing_amount
from billing.selectors import UsageGroup, quota_status, tenant_limits, usage_summary
from ops.spreadsheets import spreadsheet_cell

from ..charts import bar_chart, share_bars
from ..ranges import PRESETS, date_range_from
from ..tenancy import TenantScope, scoped_view

CSV_BREAKDOWNS = ("day", "key", "model")
CSV_COLUMNS = (
    "requests",
    "successful_requests",
    "transcriptions",
    "successful_transcriptions",
    "other_requests",
    "audio_seconds",
    "billed_seconds",
)


def _percent(part: int, whole: int) -> float:
    return round(min(100.0, 100 * part / whole), 1) if whole > 0 else 0.0


@scoped_view
def usage_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    today = timezone.now().date()
    period = date_range_from(request.GET, today=today)
    summary = usage_summary(tenant=scope.current, start=period.start, end=period.end)
    points = [(date.fromisoformat(group.label), group.audio_minutes) for group in summary.by_day]
    limits = tenant_limits(tenant=scope.current)
    quota = quota_status(tenant=scope.current)
    month = today.replace(day=1)
    rows = billing_report(year=month.year, month=month.month, tenant=scope.current)
    return render(
        request,
        "dashboard/usage.html",
        {
            "scope": scope,
            "period": period,
            "presets": PRESETS,
            "summary": summary,
            "chart": bar_chart(points),
            "days": [group for group in summary.by_day if group.requests],
            "key_bars": share_bars(summary.by_key),
            "model_bars": share_bars(summary.by_model),
            "range_amount": billing_amount(
                billed_seconds=summary.total.billed_seconds,
                price_per_minute=limits.price_per_minute,
            ),
            "limits": limits,
            "quota": quota,
            "quota_used_percent": _percent(quota.used_seconds, quota.limit_seconds),
            "quota_reserved_percent": _percent(quota.reserved_seconds, quota.limit_seconds),
            "month": month,
            "billing": rows[0] if rows else None,
            "rounding_rule": ROUNDING_RULE,
            "nav": "usage",
        },
    )


def _csv(groups: list[UsageGroup], first_column: str, with_name: bool) -> str:
    out = io.StringIO()
    # RFC 4180 line ends: a CR inside a cell is then quoted, not taken for a new row.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([first_column, *(["name"] if with_name else []), *CSV_COLUMNS])
    for group in groups:
        cells = [
            group.label,
            *([group.name] if with_name else []),
            *(getattr(group, column) for column in CSV_COLUMNS),
        ]
        writer.writerow([spreadsheet_cell(cell) for cell in cells])
    return out.getvalue()


@scoped_view
def usage_csv_download(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    """The range's usage as CSV, one line per day, key or model (`?by=`)."""
    by = request.GET.get("by", "day")
    if by not in CSV_BREAKDOWNS:
        raise Http404(f"No usage breakdown by {by!r}.")
    period = date_range_from(request.GET, today=timezone.now().date())
    if period.errors:
        return HttpResponse(
            "\n".join(period.errors) + "\n", status=400, content_type="text/plain; charset=utf-8"
        )
    summary = usage_summary(tenant=scope.current, start=period.start, end=period.end)
    groups = {"day": summary.by_day, "key": summary.by_key, "model": summary.by_model}[by]
    body = _csv(groups, {"day": "day", "key": "api_key", "model": "model"}[by], by == "key")
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="usage-{scope.current.slug}-by-{by}-'
        f'{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"'
    )
    return response


@scoped_view
def billing_csv_download(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    """This tenant's billing figures for a month; staff may ask for every tenant (?all=1)."""
    first = month_or_current(request.GET.get("month"), today=timezone.now().date())
    everyone = scope.is_staff and request.GET.get("all") == "1"
    rows = billing_report(
        year=first.year, month=first.month, tenant=None if everyone else scope.current
    )
    name = "all-tenants" if everyone else scope.current.slug
    response = HttpResponse(billing_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="billing-{name}-{first:%Y-%m}.csv"'
    return response
