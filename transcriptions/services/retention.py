"""Purging transcripts and audio past their tenant's retention (a django-q2 schedule)."""

from datetime import timedelta

from django.utils import timezone

from accounts.models import Tenant
from billing.selectors import tenant_limits

from ..models import Job, LivePreview, LiveSession
from .speakers import speaker_references_delete


def retention_days(*, tenant: Tenant) -> int:
    """Days a tenant's transcripts (and retained audio) are kept, from its plan (with its
    override); 0 keeps them forever."""
    return tenant_limits(tenant=tenant).retention_days


PREVIEW_RETENTION = timedelta(minutes=10)
# A live session's row outlives its session only when its web process died: it stopped
# counting a minute after (services.live_sessions); gone after this.
LIVE_SESSION_RETENTION = timedelta(minutes=10)


def purge_expired(*, now=None) -> dict[str, int]:
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
    # A live session that ended abruptly can leave its last preview behind (it deletes each
    # one it reads): a preview is of use for seconds.
    counts["live_previews"], _ = LivePreview.objects.filter(
        created_at__lt=now - PREVIEW_RETENTION
    ).delete()
    counts["live_sessions"], _ = LiveSession.objects.filter(
        seen_at__lt=now - LIVE_SESSION_RETENTION
    ).delete()
    return counts
