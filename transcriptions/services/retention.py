"""Purging transcripts and audio past their tenant's retention (a django-q2 schedule)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import Tenant
from billing.selectors import tenant_limits

from ..models import Job
from .speakers import speaker_references_delete

# The purges of apps above this one (live's previews and sessions), run by the same schedule:
# each registers itself from its AppConfig.ready, as this app may not import them. Each takes
# `now` and returns its counts by name.
Purger = Callable[..., dict[str, int]]
_purgers: list[Purger] = []


def purger_register(purge: Purger) -> None:
    if purge not in _purgers:
        _purgers.append(purge)


def retention_days(*, tenant: Tenant) -> int:
    """Days a tenant's transcripts (and retained audio) are kept, from its plan (with its
    override); 0 keeps them forever."""
    return tenant_limits(tenant=tenant).retention_days


def purge_expired(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"jobs": 0, "audio_files": 0}
    for tenant in Tenant.objects.all():
        days = retention_days(tenant=tenant)
        if days <= 0:
            continue
        expired = Job.objects.filter(
            tenant=tenant, status__in=Job.FINISHED, finished_at__lt=now - timedelta(days=days)
        )
        for job in expired.iterator():
            if job.audio:
                job.audio.delete(save=False)
                speaker_references_delete(job=job)
                counts["audio_files"] += 1
            job.delete()
            counts["jobs"] += 1
    for purge in _purgers:
        counts.update(purge(now=now))
    return counts
