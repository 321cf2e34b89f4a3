"""Dashboard pages for people: transcripts, usage and billing, and the staff overview.

Thin views: reads come from dashboard_selectors (every lookup filtered by the tenants the
person may see), bodies of downloads from formats.render, figures from accounts.billing.
"""

import calendar
from datetime import date

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.billing import ROUNDING_RULE, billing_csv, billing_report
from accounts.selectors import usage_by_day
from accounts.tenancy import TenantScope, scoped_view

from . import dashboard_selectors as selectors
from .charts import bar_chart
from .dashboard_forms import TranscriptFilterForm
from .formats import render as render_result
from .languages import language_name
from .models import Job

PAGE_SIZE = 25
# Download name -> (formats.render format, content type of the file).
DOWNLOADS = {
    "txt": ("text", "text/plain; charset=utf-8"),
    "srt": ("srt", "application/x-subrip; charset=utf-8"),
    "vtt": ("vtt", "text/vtt; charset=utf-8"),
    "json": ("verbose_json", "application/json"),
}
MSG_STAFF_ONLY = "The platform overview is for operators (staff) only."


def _language_label(code: str) -> str:
    return (language_name(code) or code).title()


@scoped_view
def home(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    return redirect("dashboard:transcripts")


@scoped_view
def transcript_list_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    tenant = scope.current
    form = TranscriptFilterForm(
        request.GET,
        models=selectors.job_models(tenant=tenant),
        languages=[(c, _language_label(c)) for c in selectors.job_languages(tenant=tenant)],
    )
    filters = form.filters()
    jobs = selectors.job_list(tenant=tenant, **filters)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/transcripts/list.html",
        {
            "scope": scope,
            "form": form,
            "page": page,
            "is_filtered": any(filters.values()),
            "nav": "transcripts",
        },
    )


@scoped_view
def transcript_detail_page(
    request: HttpRequest, public_id: str, *, scope: TenantScope
) -> HttpResponse:
    job = selectors.job_get(tenants=scope.tenants, public_id=public_id)
    result = job.result or {}
    return render(
        request,
        "dashboard/transcripts/detail.html",
        {
            "scope": scope,
            "job": job,
            "segments": result.get("segments") or [],
            "language": _language_label(job.detected_language) if job.detected_language else "",
            "downloads": list(DOWNLOADS) if job.status == Job.Status.SUCCEEDED and result else [],
            "nav": "transcripts",
        },
    )


@scoped_view
def transcript_download(
    request: HttpRequest, public_id: str, fmt: str, *, scope: TenantScope
) -> HttpResponse:
    job = selectors.job_get(tenants=scope.tenants, public_id=public_id)
    if fmt not in DOWNLOADS or job.status != Job.Status.SUCCEEDED or not job.result:
        raise Http404("No such download.")
    response_format, content_type = DOWNLOADS[fmt]
    granularities = ["segment", "word"] if job.result.get("words") else ["segment"]
    body, _ = render_result(
        job.result, response_format=response_format, task=job.task, granularities=granularities
    )
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{job.public_id}.{fmt}"'
    return response


# --- Usage and billing ----------------------------------------------------------------------------


def _month(value: str | None) -> date:
    """The first day of the month asked for as YYYY-MM; this month when absent or invalid."""
    today = timezone.now().date()
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _shift_month(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@scoped_view
def usage_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    first = _month(request.GET.get("month"))
    # One row per day of the month, zeros included, so the chart's axis reads as a calendar.
    days = usage_by_day(tenant=scope.current, start=first, end=_month_end(first))
    points = [(row["day"], round(float(row["audio_seconds"]) / 60, 2)) for row in days]
    rows = billing_report(year=first.year, month=first.month, tenant=scope.current)
    this_month = timezone.now().date().replace(day=1)
    return render(
        request,
        "dashboard/usage.html",
        {
            "scope": scope,
            "month": first,
            "previous_month": _shift_month(first, -1),
            "next_month": _shift_month(first, 1) if first < this_month else None,
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
    first = _month(request.GET.get("month"))
    everyone = scope.is_staff and request.GET.get("all") == "1"
    rows = billing_report(
        year=first.year, month=first.month, tenant=None if everyone else scope.current
    )
    name = "all-tenants" if everyone else scope.current.slug
    response = HttpResponse(billing_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="billing-{name}-{first:%Y-%m}.csv"'
    return response


# --- Staff ------------------------------------------------------------------------------------


def _queued_tasks_url() -> str | None:
    """django-q2 lists queued tasks in the admin only with its ORM broker (not with Redis)."""
    from django.contrib import admin
    from django_q.models import OrmQ

    return reverse("admin:django_q_ormq_changelist") if admin.site.is_registered(OrmQ) else None


@scoped_view
def overview_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    if not scope.is_staff:
        raise PermissionDenied(MSG_STAFF_ONLY)

    first = timezone.now().date().replace(day=1)
    workers = selectors.worker_list()
    return render(
        request,
        "dashboard/overview.html",
        {
            "scope": scope,
            "status_counts": selectors.job_status_counts(),
            "statuses": Job.Status.labels,
            "tenants": selectors.job_status_counts_by_tenant(),
            "queue": selectors.queue_depth(),
            "workers": workers,
            "workers_alive": sum(1 for w in workers if w.alive),
            "failures": selectors.job_recent_failures(),
            "billing": billing_report(year=first.year, month=first.month),
            "month": first,
            "queued_tasks_url": _queued_tasks_url(),
            "nav": "overview",
        },
    )
