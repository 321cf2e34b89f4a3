"""Prometheus figures of the usage log: requests by endpoint and status, their latency, and
the audio seconds measured and billed (collected by ops.metrics)."""

from collections.abc import Iterator

from django.db.models import Count, Q, Sum
from prometheus_client.core import CounterMetricFamily, Metric

from ops.metrics import histogram

from .models import UsageRecord

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class UsageCollector:
    def collect(self) -> Iterator[Metric]:
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
        yield histogram(
            "whisper_api_request_duration_seconds",
            "API request latency",
            ["endpoint", "status_code"],
            [{**r, "s": (r["ms"] or 0) / 1000} for r in rows],
            LATENCY_BUCKETS,
            value_key="le",
            count_key="n",
            sum_key="s",
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
