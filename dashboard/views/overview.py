"""The platform overview for operators (staff): jobs per status and tenant, the queue, the
workers, recent failures and every tenant's billing this month."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from billing.reports import billing_report
from ops.workers import worker_list
from transcriptions.models import Job
from transcriptions.selectors import (
    job_recent_failures,
    job_status_counts,
    job_status_counts_by_tenant,
    queue_depth,
)

from ..tenancy import TenantScope, scoped_view

MSG_STAFF_ONLY = "The platform overview is for operators (staff) only."


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
    workers = worker_list()
    return render(
        request,
        "dashboard/overview.html",
        {
            "scope": scope,
            "status_counts": job_status_counts(),
            "statuses": Job.Status.labels,
            "tenants": job_status_counts_by_tenant(),
            "queue": queue_depth(),
            "workers": workers,
            "workers_alive": sum(1 for w in workers if w.alive),
            "failures": job_recent_failures(),
            "billing": billing_report(year=first.year, month=first.month),
            "month": first,
            "queued_tasks_url": _queued_tasks_url(),
            "nav": "overview",
        },
    )
