"""Prometheus metrics, read from the database at scrape time.

Every web and worker process on every machine writes the same database, so reading the
figures from it gives the platform's totals from any one web process, with no per-process
registries to merge (prometheus_client's multiprocess mode) and nothing lost on a restart.

Each app describes its own figures with a collector (billing: requests and audio seconds,
transcriptions: jobs and the queue, ops: workers); settings.METRICS_COLLECTORS lists them, so
ops, which every app may use, imports none of them.
"""

import hmac
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from .workers import workers_alive


def histogram(
    name: str,
    doc: str,
    labels: list[str],
    rows: Iterable[dict[str, Any]],
    buckets: tuple[float, ...],
    *,
    value_key: str,
    count_key: str,
    sum_key: str,
) -> HistogramMetricFamily:
    """A histogram from rows of cumulative bucket counts (`{value_key}_{i}`), as one
    aggregate query gives them."""
    family = HistogramMetricFamily(name, doc, labels=labels)
    for row in rows:
        cumulative = [(str(b), row[f"{value_key}_{i}"]) for i, b in enumerate(buckets)]
        cumulative.append(("+Inf", row[count_key]))
        family.add_metric([str(row[label]) for label in labels], cumulative, row[sum_key] or 0)
    return family


class WorkerCollector:
    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "whisper_workers_alive",
            "Worker processes with a fresh heartbeat",
            value=len(workers_alive()),
        )


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN  # production settings refuse to start without one
    if token and not hmac.compare_digest(
        request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
    ):
        return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    for path in settings.METRICS_COLLECTORS:
        registry.register(import_string(path)())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
