"""Prometheus metrics, computed from the database at scrape time.

Every web and worker process on every machine writes the same database, so reading the
figures from it gives the platform's totals from any one web process, with no per-process
registries to merge (prometheus_client's multiprocess mode) and nothing lost on a restart.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import CollectorRegistry

from accounts.models import UsageRecord

from .models import Job
from .worker_registry import workers_alive

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
JOB_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)


def _histogram(name, doc, labels, rows, buckets, value_key, count_key, sum_key):
    family = HistogramMetricFamily(name, doc, labels=labels)
    for row in rows:
        cumulative = [(str(b), row[f"{value_key}_{i}"]) for i, b in enumerate(buckets)]
        cumulative.append(("+Inf", row[count_key]))
        family.add_metric([str(row[label]) for label in labels], cumulative, row[sum_key] or 0)
    return family


class PlatformCollector:
    def collect(self):
        requests = CounterMetricFamily(
            "whisper_api_requests",
            "API requests by endpoint and status",
            labels=["endpoint", "status"],
        )
        latency_buckets = {
            f"le_{i}": Count("pk", filter=Q(processing_ms__lte=b * 1000))
            for i, b in enumerate(LATENCY_BUCKETS)
        }
        rows = (
            UsageRecord.objects.values("endpoint", "status_code")
            .annotate(n=Count("pk"), ms=Sum("processing_ms"), **latency_buckets)
            .order_by()
        )
        for row in rows:
            requests.add_metric([row["endpoint"], str(row["status_code"])], row["n"])
        yield requests
        yield _histogram(
            "whisper_api_request_duration_seconds",
            "API request latency",
            ["endpoint", "status_code"],
            [{**r, "s": (r["ms"] or 0) / 1000} for r in rows],
            LATENCY_BUCKETS,
            "le",
            "n",
            "s",
        )

        audio = CounterMetricFamily(
            "whisper_audio_seconds",
            "Audio seconds processed (measured, and billed)",
            labels=["kind"],
        )
        sums = UsageRecord.objects.aggregate(a=Sum("audio_seconds"), b=Sum("billed_seconds"))
        audio.add_metric(["measured"], sums["a"] or 0)
        audio.add_metric(["billed"], sums["b"] or 0)
        yield audio

        jobs = GaugeMetricFamily("whisper_jobs", "Jobs by status", labels=["status"])
        counts = dict(Job.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in Job.Status.values:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        yield GaugeMetricFamily(
            "whisper_queue_depth", "Jobs waiting for a worker", value=counts.get("queued", 0)
        )
        yield GaugeMetricFamily(
            "whisper_workers_alive",
            "Worker processes with a fresh heartbeat",
            value=len(workers_alive()),
        )

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
        yield _histogram(
            "whisper_job_duration_seconds",
            "Time from a worker taking a job to its end",
            ["model"],
            [{**r, "s": r["total"].total_seconds() if r["total"] else 0} for r in finished],
            JOB_BUCKETS,
            "le",
            "n",
            "s",
        )


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token and request.headers.get("Authorization") != f"Bearer {token}":
        return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
