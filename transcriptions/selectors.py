"""Reads of jobs, always within one tenant: another tenant's job id is a 404, never its data."""

from accounts.models import Tenant
from config.errors import ApiError

from .models import Job

MSG_JOB_NOT_FOUND = "No job found with id '{job_id}'."
MAX_LIST_LIMIT = 100


def job_get(*, tenant: Tenant, public_id: str) -> Job:
    job = Job.objects.filter(tenant=tenant, public_id=public_id).first()
    if job is None:
        raise ApiError(
            MSG_JOB_NOT_FOUND.format(job_id=public_id), status_code=404, code="job_not_found"
        )
    return job


def job_list(
    *, tenant: Tenant, limit: int = 20, after: str | None = None, status: str | None = None
) -> tuple[list[Job], bool]:
    """Newest first, cursor-paginated as OpenAI lists are (`after` = the last id seen)."""
    # Rows are numbered in creation order, so the primary key is a stable cursor.
    jobs = Job.objects.filter(tenant=tenant).order_by("-pk")
    if status:
        jobs = jobs.filter(status=status)
    if after:
        jobs = jobs.filter(pk__lt=job_get(tenant=tenant, public_id=after).pk)
    page = list(jobs.prefetch_related("callback_attempts")[: limit + 1])
    return page[:limit], len(page) > limit
