"""Reads of jobs. Every lookup of a tenant's job filters by the tenants the caller may see:
another tenant's job id is not found (JobNotFound: a 404 for the API and the dashboard alike),
never its data. The platform-wide counts below are for operators (metrics, the overview)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from accounts.models import Tenant
from billing.rounding import billing_amount
from billing.selectors import tenant_limits

from .errors import JobNotFound
from .models import Job
from .services.usage import job_usage

MSG_JOB_NOT_FOUND = "No job found with id '{job_id}'."
MAX_LIST_LIMIT = 100


def job_get(*, tenants: Iterable[Tenant] | QuerySet[Tenant], public_id: str) -> Job:
    """The job with this id among the given tenants' jobs."""
    job = (
        Job.objects.select_related("tenant", "api_key")
        .filter(public_id=public_id, tenant__in=tenants)
        .first()
    )
    if job is None:
        raise JobNotFound(MSG_JOB_NOT_FOUND.format(job_id=public_id))
    return job


def job_page(
    *, tenant: Tenant, limit: int = 20, after: str | None = None, status: str | None = None
) -> tuple[list[Job], bool]:
    """Newest first, cursor-paginated as OpenAI lists are (`after` = the last id seen)."""
    # Rows are numbered in creation order, so the primary key is a stable cursor.
    jobs = Job.objects.filter(tenant=tenant).order_by("-pk")
    if status:
        jobs = jobs.filter(status=status)
    if after:
        jobs = jobs.filter(pk__lt=job_get(tenants=[tenant], public_id=after).pk)
    page = list(jobs.prefetch_related("callback_attempts")[: limit + 1])
    return page[:limit], len(page) > limit


def job_search(
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


def job_languages(*, tenant: Tenant) -> list[str]:
    """Languages seen in a tenant's transcripts (the choices of the language filter)."""
    # order_by(): the model's default ordering (created_at) would make DISTINCT per row.
    detected = (
        Job.objects.filter(tenant=tenant)
        .exclude(detected_language="")
        .order_by()
        .values_list("detected_language", flat=True)
        .distinct()
    )
    return sorted(detected)


def job_models(*, tenant: Tenant) -> list[str]:
    """Model ids a tenant's jobs used (requested ids and the registry ids they resolved to)."""
    jobs = Job.objects.filter(tenant=tenant).order_by()
    models = set(jobs.values_list("model", flat=True).distinct())
    models |= set(jobs.values_list("requested_model", flat=True).distinct())
    return sorted(m for m in models if m)


def job_progress_list(
    *, tenants: Iterable[Tenant] | QuerySet[Tenant], public_ids: Iterable[str]
) -> list[dict]:
    """Status and progress of the given jobs among the tenants' jobs (ids of other tenants'
    jobs are left out, as unknown ones are): what the dashboard's progress bars poll."""
    rows = Job.objects.filter(tenant__in=tenants, public_id__in=list(public_ids)).values(
        "public_id", "status", "progress"
    )
    return [
        {
            "id": row["public_id"],
            "status": row["status"],
            "progress": 100 if row["status"] == Job.Status.SUCCEEDED else row["progress"],
            "finished": row["status"] in Job.FINISHED,
        }
        for row in rows
    ]


@dataclass(frozen=True)
class JobCost:
    """What a job is billed: its seconds (the usage log's rule) at its tenant's plan price."""

    billed_seconds: int | None  # None while the job has not ended
    price_per_minute: Decimal
    currency: str

    @property
    def amount(self) -> Decimal | None:
        """The job's own amount, rounded to the cent as billing rounds a month (the monthly
        bill rounds the month's sum once, so the jobs' amounts may not add up to it)."""
        if self.billed_seconds is None:
            return None
        return billing_amount(
            billed_seconds=self.billed_seconds, price_per_minute=self.price_per_minute
        )


def job_cost(*, job: Job) -> JobCost:
    limits = tenant_limits(tenant=job.tenant)
    return JobCost(
        billed_seconds=job_usage(job).billed_seconds,
        price_per_minute=limits.price_per_minute,
        currency=limits.currency,
    )


# --- The whole platform (operators) -------------------------------------------------------------


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

    counts = job_status_counts()
    return {
        "broker_waiting": get_broker().queue_size() or 0,
        "jobs_queued": counts[Job.Status.QUEUED],
        "jobs_running": counts[Job.Status.RUNNING],
    }


def job_recent_failures(*, limit: int = 10) -> QuerySet[Job]:
    return (
        Job.objects.filter(status=Job.Status.FAILED)
        .select_related("tenant")
        .order_by("-created_at")[:limit]
    )
