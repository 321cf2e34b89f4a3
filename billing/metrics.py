"""Prometheus figures of the API requests: by endpoint and status, their latency, and the
audio seconds measured and billed (collected by ops.metrics).

Read from the request counters (one row per endpoint and status), never from the usage log:
a scrape costs the same at a million usage rows as at a thousand, and requests that were
counted but not stored (no key) are reported too.
"""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from ops.metrics import histogram

from .models import LATENCY_BUCKETS_MS, RequestCounter, latency_bucket_field

LATENCY_BUCKETS = tuple(ms / 1000 for ms in LATENCY_BUCKETS_MS)


class UsageCollector:
    def collect(self) -> Iterator[Metric]:
        rows = list(RequestCounter.objects.values())
        requests = CounterMetricFamily(
            "whisper_api_requests",
            "API requests by endpoint and status",
            labels=["endpoint", "status"],
        )
        for row in rows:
            requests.add_metric([row["endpoint"], str(row["status_code"])], row["requests"])
        yield requests
        yield histogram(
            "whisper_api_request_duration_seconds",
            "API request latency",
            ["endpoint", "status_code"],
            [
                {
                    **row,
                    **{
                        f"le_{i}": row[latency_bucket_field(ms)]
                        for i, ms in enumerate(LATENCY_BUCKETS_MS)
                    },
                    "s": row["processing_ms"] / 1000,
                }
                for row in rows
            ],
            LATENCY_BUCKETS,
            value_key="le",
            count_key="requests",
            sum_key="s",
        )

        audio = CounterMetricFamily(
            "whisper_audio_seconds",
            "Audio seconds processed (measured, and billed)",
            labels=["kind"],
        )
        audio.add_metric(["measured"], sum(row["audio_seconds"] for row in rows))
        audio.add_metric(["billed"], sum(row["billed_seconds"] for row in rows))
        yield audio
