"""Prometheus figures of the jobs: by status, the queue, and how long they took per model
(collected by ops.metrics)."""

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import GaugeMetricFamily, Metric

from ops.metrics import histogram

from .models import Chunk, Job
from .selectors import job_status_counts

JOB_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)


class JobCollector:
    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("whisper_jobs", "Jobs by status", labels=["status"])
        counts = job_status_counts()
        for status, count in counts.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "whisper_queue_depth",
            "Jobs waiting for a worker",
            value=counts[Job.Status.QUEUED],
        )

        # The unit the workers take: what waits for them, and what they are decoding.
        chunks = GaugeMetricFamily(
            "whisper_chunks", "Chunks of audio waiting or being decoded", labels=["status"]
        )
        active = dict(
            Chunk.objects.filter(status__in=(Chunk.Status.QUEUED, Chunk.Status.RUNNING))
            .values_list("status")
            .annotate(Count("pk"))
            .order_by()
        )
        for status in (Chunk.Status.QUEUED, Chunk.Status.RUNNING):
            chunks.add_metric([status], active.get(status, 0))
        yield chunks

        took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        job_buckets = {
            f"le_{i}": Count("pk", filter=Q(took__lte=timedelta(seconds=b)))
            for i, b in enumerate(JOB_BUCKETS)
        }
        finished = (
            Job.objects.filter(status__in=Job.FINISHED, started_at__isnull=False)
            .exclude(finished_at=None)
            .annotate(took=took)
            .values("model")
            .annotate(n=Count("pk"), total=Sum("took"), **job_buckets)
            .order_by()
        )
        yield histogram(
            "whisper_job_duration_seconds",
            "Time from a worker taking a job to its end",
            ["model"],
            [{**r, "s": r["total"].total_seconds() if r["total"] else 0} for r in finished],
            JOB_BUCKETS,
            value_key="le",
            count_key="n",
            sum_key="s",
        )
