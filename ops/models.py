"""The worker registry's table: one row per worker process that has loaded its models."""

from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """A worker process that has started and loaded its models; refreshed after each job."""

    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    loaded_models = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        # Created by transcriptions' migrations; moved here with its table (ops 0001).
        db_table = "transcriptions_workerheartbeat"
        constraints = [
            models.UniqueConstraint(fields=["hostname", "pid"], name="unique_worker_process"),
        ]

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid}"
