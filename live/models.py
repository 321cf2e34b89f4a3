"""The rows of live transcription: previews in flight and the sessions open now.

Both began in `transcriptions` and keep its tables (`Meta.db_table`): the move to this app
changed Django's state only (migrations live 0001 and transcriptions 0011), no row was copied."""

from django.db import models
from django.utils import timezone

from accounts.models import Tenant


class LivePreview(models.Model):
    """A live turn's audio so far, to be decoded once for its interim text (the Realtime API's
    deltas while a turn is spoken): a unit of work for the same workers as chunks, queued by a
    session and deleted by it once read. Its seconds are held against the quota before it is
    queued, and those its sent text covers billed (services.preview_billing). Rows a session
    left behind are purged (services.retention)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=64)
    language = models.CharField(max_length=8, blank=True)
    prompt = models.TextField(blank=True)
    prefix = models.TextField(blank=True)
    # 16 kHz mono int16: at most a turn (REALTIME_MAX_TURN_SECONDS), so a row, not a file.
    samples = models.BinaryField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "transcriptions_livepreview"

    def __str__(self) -> str:
        return f"preview {self.pk}"


class LiveSession(models.Model):
    """An open realtime session, counted against its tenant's cap (REALTIME_SESSIONS_PER_TENANT)
    across every web process and machine. Its web process refreshes `seen_at` while it is open
    and deletes the row when it closes; the row of a process that died stops counting once
    `seen_at` is stale, or at once when that process was on this machine (services.session_slots),
    and is purged later (services.retention).

    The row also carries the quota its previews hold (services.preview_billing), so that a
    process killed mid-turn does not keep those seconds reserved for good."""

    public_id = models.CharField(max_length=40, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)
    # The web process holding the session (ops.workers.process_identity).
    process = models.CharField(max_length=300, blank=True)
    held_seconds = models.PositiveIntegerField(default=0)
    held_period = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "transcriptions_livesession"
        # The index's name from when the table was transcriptions': the same index.
        indexes = [
            models.Index(fields=["tenant", "seen_at"], name="transcripti_tenant__9964b6_idx")
        ]

    def __str__(self) -> str:
        return self.public_id
