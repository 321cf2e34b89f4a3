"""The usage page (audio minutes per day as a chart, the month's billing figures) and the
billing CSV. Figures come from billing: the same rows as the report and GET /v1/usage."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from billing.periods import month_last_day, month_or_current, month_shift
from billing.reports import ROUNDING_RULE, billing_csv, billing_report
from billing.selectors import usage_by_day

from ..charts import bar_chart
from ..tenancy import TenantScope, scoped_view


def _month(request: HttpRequest):
    return month_or_current(request.GET.get("month"), today=timezone.now().date())


@scoped_view
def usage_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    first = _month(request)
    # One row per day of the month, zeros included, so the chart's axis reads as a calendar.
    days = usage_by_day(tenant=scope.current, start=first, end=month_last_day(first))
    points = [(row["day"], round(float(row["audio_seconds"]) / 60, 2)) for row in days]
    rows = billing_report(year=first.year, month=first.month, tenant=scope.current)
    this_month = timezone.now().date().replace(day=1)
    return render(
        request,
        "dashboard/usage.html",
        {
            "scope": scope,
            "month": first,
            "previous_month": month_shift(first, -1),
            "next_month": month_shift(first, 1) if first < this_month else None,
            "chart": bar_chart(points),
            "days": [row for row in days if row.get("requests")],
            "billing": rows[0] if rows else None,
            "rounding_rule": ROUNDING_RULE,
            "nav": "usage",
        },
    )


@scoped_view
def billing_csv_download(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    """This tenant's billing figures for a month; staff may ask for every tenant (?all=1)."""
    first = _month(request)
    everyone = scope.is_staff and request.GET.get("all") == "1"
    rows = billing_report(
        year=first.year, month=first.month, tenant=None if everyone else scope.current
    )
    name = "all-tenants" if everyone else scope.current.slug
    response = HttpResponse(billing_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="billing-{name}-{first:%Y-%m}.csv"'
    return response
