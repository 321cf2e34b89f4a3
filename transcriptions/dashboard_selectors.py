"""Reads behind the dashboard: a tenant's transcripts, and the platform overview for staff.

Every transcript lookup takes the tenants the person may see (accounts.tenancy) and filters
by them: a job of another tenant is a 404, indistinguishable from one that does not exist.
"""

import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import Tenant

from .models import Job, WorkerHeartbeat


def job_list(
    *,
    tenant: Tenant,
    search: str = "",
    status: str = "",
    model: str = "",
    language: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Job]:
    """One tenant's jobs, newest first, narrowed by the dashboard's filters."""
    jobs = Job.objects.filter(tenant=tenant).select_related("api_key")
    if search:
        jobs = jobs.filter(Q(text__icontains=search) | Q(audio_filename__icontains=search))
    if status:
        jobs = jobs.filter(status=status)
    if model:
        jobs = jobs.filter(Q(model=model) | Q(requested_model=model))
    if language:
        jobs = jobs.filter(Q(detected_language=language) | Q(language=language))
    if date_from:
        jobs = jobs.filter(created_at__date__gte=date_from)
    if date_to:
        jobs = jobs.filter(created_at__date__lte=date_to)
    return jobs.order_by("-created_at", "-pk")


def job_get(*, tenants: QuerySet[Tenant], public_id: str) -> Job:
    """The job with this id among the given tenants' jobs, else 404."""
    job = (
        Job.objects.select_related("tenant", "api_key")
        .filter(public_id=public_id, tenant__in=tenants)
        .first()
    )
    if job is None:
        raise Http404("No such transcript.")
    return job


def job_languages(*, tenant: Tenant) -> list[str]:
    """Languages seen in a tenant's transcripts (the choices of the language filter)."""
    detected = (
        Job.objects.filter(tenant=tenant)
        .exclude(detected_language="")
        .values_list("detected_language", flat=True)
        .distinct()
    )
    return sorted(detected)


def job_models(*, tenant: Tenant) -> list[str]:
    """Model ids a tenant's jobs used (requested ids and the registry ids they resolved to)."""
    jobs = Job.objects.filter(tenant=tenant)
    models = set(jobs.values_list("model", flat=True).distinct())
    models |= set(jobs.values_list("requested_model", flat=True).distinct())
    return sorted(m for m in models if m)


# --- Platform overview (staff) ------------------------------------------------------------------


def job_status_counts() -> dict[str, int]:
    """Jobs per status over the whole platform, every status present (zero included)."""
    counts = dict(Job.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return {status: counts.get(status, 0) for status in Job.Status.values}


def job_status_counts_by_tenant() -> list[dict]:
    """Per tenant: jobs per status and the last job's time, busiest tenants first."""
    per_status = {status: Count("jobs", filter=Q(jobs__status=status)) for status in Job.Status}
    tenants = Tenant.objects.annotate(
        total=Count("jobs"), **{f"n_{status}": n for status, n in per_status.items()}
    ).order_by("-total", "slug")
    return [
        {
            "tenant": tenant,
            "total": tenant.total,
            "counts": [getattr(tenant, f"n_{status}") for status in Job.Status.values],
        }
        for tenant in tenants
    ]


def queue_depth() -> dict[str, int]:
    """Tasks waiting in the django-q2 broker and the jobs waiting for or holding a worker."""
    from django_q.brokers import get_broker

    broker = get_broker()
    return {
        "broker_waiting": broker.queue_size() or 0,
        "jobs_queued": Job.objects.filter(status=Job.Status.QUEUED).count(),
        "jobs_running": Job.objects.filter(status=Job.Status.RUNNING).count(),
    }


@dataclass(frozen=True)
class WorkerState:
    heartbeat: WorkerHeartbeat
    alive: bool


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def worker_list(*, now: datetime | None = None) -> list[WorkerState]:
    """Every worker that has registered, alive ones first.

    Alive: its heartbeat thread wrote within WORKER_STALE_SECONDS (the rule dead-job recovery
    uses) and, for a worker of this machine, its process still exists (a killed worker's last
    heartbeat stays fresh for a while).
    """
    now = now or timezone.now()
    here = socket.gethostname()
    stale = timedelta(seconds=settings.WORKER_STALE_SECONDS)
    states = []
    for beat in WorkerHeartbeat.objects.order_by("-last_seen"):
        alive = now - beat.last_seen <= stale
        if alive and beat.hostname == here:
            alive = _process_exists(beat.pid)
        states.append(WorkerState(beat, alive))
    return sorted(states, key=lambda s: not s.alive)


def job_recent_failures(*, limit: int = 10) -> QuerySet[Job]:
    return (
        Job.objects.filter(status=Job.Status.FAILED)
        .select_related("tenant")
        .order_by("-created_at")[:limit]
    )
