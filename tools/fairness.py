"""The fairness scenario: tenant A fills the queue with async jobs (POST /v1/audio/jobs, a
60 s clip each, whisper-1), right after which tenant B sends short synchronous requests
(jfk.flac, tiny.en), one after the other while A's jobs are still queued. B's latency then is
compared with B's latency on an idle platform, measured first in the same run.

Only the HTTP API is used, so it runs against any deployment given a key of each of two tenants
(--key, --key-b). A platform started here gets its second tenant from the same operator
commands as the first, and both a concurrent-jobs limit and an audio allowance that cannot stop
A's backlog. Afterwards A's jobs are removed: queued ones cancelled at once; against a
deployment, running ones are first waited for, so that the next measurement finds its workers
free.
"""

import contextlib
import statistics
import time
from typing import Any

from django.conf import settings

from .local_platform import LocalPlatform
from .measure import ApiClient, BenchmarkError, JobsClient
from .options import (
    DEFAULT_CLIP,
    FAIRNESS_CLIP,
    FAIRNESS_MODEL_A,
    FAIRNESS_MODEL_B,
    BenchmarkOptions,
    resolve_model,
)
from .report import summary

TENANT_B = "benchmark-b"
# Overrides of the started platform's plan for both tenants: never what stops A's backlog.
LIMITS = {"concurrent_jobs": 1_000, "monthly_audio_seconds": 10_000_000}
TARGET_LOADED_OVER_IDLE = 3.0
POLL_SECONDS = 1.0
DRAIN_TIMEOUT = float(settings.JOB_TIMEOUT)


def _statuses(jobs: JobsClient, ids: list[str]) -> dict[str, str]:
    return {job_id: jobs.status(job_id) for job_id in ids}


def _backlog(jobs: JobsClient, ids: list[str]) -> dict[str, int]:
    statuses = list(_statuses(jobs, ids).values())
    return {"queued": statuses.count("queued"), "running": statuses.count("running")}


def _remove(jobs: JobsClient, ids: list[str], *, wait_running: bool, progress) -> dict[str, int]:
    """Cancel and delete A's jobs: queued ones at once; running ones after they end when
    `wait_running` (a deployment's worker keeps decoding a cancelled job to its end)."""
    statuses = _statuses(jobs, ids)
    counts = {status: list(statuses.values()).count(status) for status in set(statuses.values())}
    for job_id, status in statuses.items():
        if status == "queued":
            jobs.delete(job_id)
    running = [job_id for job_id, status in statuses.items() if status == "running"]
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while wait_running and running and time.monotonic() < deadline:
        progress(f"fairness: waiting for {len(running)} of tenant A's jobs still running")
        time.sleep(POLL_SECONDS * 5)
        running = [job_id for job_id in running if jobs.status(job_id) not in jobs.FINISHED]
    for job_id, status in statuses.items():
        if status != "queued":
            jobs.delete(job_id)
    return counts


def _measure(
    *, url: str, key_a: str, key_b: str, options: BenchmarkOptions, wait_running: bool, progress
) -> dict[str, Any]:
    b = ApiClient(url=url, key=key_b, clip=DEFAULT_CLIP, model=FAIRNESS_MODEL_B)
    jobs = JobsClient(url=url, key=key_a)
    ids: list[str] = []
    try:
        with b.connect() as conn:
            b.transcribe(conn)  # untimed: B's first request
        idle = []
        for index in range(options.fairness_probes):
            with b.connect() as conn:
                seconds, _ = b.transcribe(conn)
            idle.append(seconds)
            progress(f"fairness: B idle {index + 1}/{options.fairness_probes} {seconds:.2f} s")
        start = time.perf_counter()
        for _ in range(options.fairness_jobs):
            ids.append(jobs.submit(FAIRNESS_CLIP, model=FAIRNESS_MODEL_A))
        submitted = time.perf_counter() - start
        progress(f"fairness: A submitted {len(ids)} jobs in {submitted:.2f} s")
        loaded, backlog_when_sent = [], []
        backlog = _backlog(jobs, ids)
        while backlog["queued"] and len(loaded) < options.fairness_probes:
            backlog_when_sent.append(backlog)
            with b.connect() as conn:
                seconds, _ = b.transcribe(conn)
            loaded.append(seconds)
            backlog = _backlog(jobs, ids)
            progress(
                f"fairness: B behind A's backlog {len(loaded)}/{options.fairness_probes} "
                f"{seconds:.2f} s ({backlog['queued']} of A's jobs still queued)"
            )
        a_seconds = time.perf_counter() - start
        progress("fairness: removing tenant A's jobs")
        left = _remove(jobs, ids, wait_running=wait_running, progress=progress)
        ids = []
    finally:
        for job_id in ids:  # a failure half-way: leave no backlog behind
            with contextlib.suppress(BenchmarkError):
                jobs.delete(job_id)
        jobs.close()
    idle_median = statistics.median(idle)
    return {
        "tenant_a": {
            "jobs": options.fairness_jobs,
            "clip": FAIRNESS_CLIP.name,
            "model": FAIRNESS_MODEL_A,
            "submit_seconds": submitted,
            "statuses_after_b": left,
            "seconds_until_b_done": a_seconds,
        },
        "tenant_b": {
            "clip": DEFAULT_CLIP.name,
            "model": FAIRNESS_MODEL_B,
            "idle_seconds": summary(idle),
            "loaded_seconds": summary(loaded),
            # How many of A's jobs were queued and running as each timed request was sent.
            "a_backlog_when_sent": backlog_when_sent,
        },
        "loaded_over_idle": {
            "median": statistics.median(loaded) / idle_median,
            "max": max(loaded) / idle_median,
        },
        "target": {"limit": TARGET_LOADED_OVER_IDLE, "met": None},
    }


def fairness_run(*, options: BenchmarkOptions, progress) -> dict[str, Any]:
    if options.url:
        figures = _measure(
            url=options.url,
            key_a=options.key or "",
            key_b=options.key_b or "",
            options=options,
            wait_running=True,
            progress=progress,
        )
        platform_figures = {"url": options.url, "started_here": False}
    else:
        # Every model (A's and B's) loaded by every worker, as a default deployment does.
        platform = LocalPlatform(model_id=resolve_model(FAIRNESS_MODEL_B), preload_all=True)
        try:
            progress(
                f"fairness: starting a platform with {platform.workers} workers x "
                f"{platform.threads} threads"
            )
            platform.prepare(tenant=LocalPlatform.TENANT, name="Benchmark")
            key_b = platform.add_tenant(TENANT_B, name="Benchmark B")
            for tenant in (LocalPlatform.TENANT, TENANT_B):
                platform.set_limits(tenant, **LIMITS)
            platform.start(workers_ready=platform.workers, model=resolve_model(FAIRNESS_MODEL_A))
            figures = _measure(
                url=platform.url,
                key_a=platform.key,
                key_b=key_b,
                options=options,
                wait_running=False,
                progress=progress,
            )
        finally:
            platform.stop()
        platform_figures = {
            "url": platform.url,
            "started_here": True,
            "workers": platform.workers,
            "cpu_threads_per_worker": platform.threads,
        }
    figures["target"]["met"] = figures["loaded_over_idle"]["median"] <= TARGET_LOADED_OVER_IDLE
    return {"platform": platform_figures, **figures}
