"""The platform against bare faster-whisper (`manage.py benchmark`), in scenarios run one after
the other: short (below), long (tools/long_latency.py), fairness (tools/fairness.py),
diarization (tools/diarization_cost.py), realtime (tools/realtime_latency.py), accuracy
(tools/accuracy.py).

The short scenario: one clip, in one run, interleaved so that a noisy machine slows both sides
alike:
- the bare engine: faster-whisper in this process, the same model files
  (engine.model_directory) and the same decode settings (engine.decode_options), model loaded;
- the same clip through the platform's HTTP API, warm and synchronous, one request at a time;
- rounds of N concurrent API requests (audio seconds per wall second), each round followed by N
  sequential bare runs to compare with;
- the first request after the workers have started, and the workers' memory (RSS).

By default it starts its own platform (`manage.py serve` over a temporary SQLite directory,
with a tenant and key made by the operator commands), so the first request after start can be
measured; with a URL and a key it measures an existing deployment instead.
"""

import gc
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from .accuracy import accuracy_run
from .diarization_cost import diarization_run
from .fairness import fairness_run
from .figures import Figures
from .local_platform import LocalPlatform
from .long_latency import long_run
from .measure import (
    ApiClient,
    BareEngine,
    BenchmarkError,
    bare_process_memory,
    process_memory,
)
from .options import (
    DEFAULT_ACCURACY_MODEL,
    DEFAULT_CLIP,
    DEFAULT_LONG_MODEL,
    DEFAULT_MODEL,
    MSG_BAD_COUNTS,
    MSG_NO_FILE,
    MSG_UNKNOWN_MODEL,
    MSG_URL_NEEDS_KEY,
    SCENARIOS,
    BenchmarkOptions,
    check,
    parse_scenarios,
    parse_workers,
    resolve_model,
)
from .realtime_latency import realtime_run
from .report import report_build, report_lines

__all__ = [
    "DEFAULT_ACCURACY_MODEL",
    "DEFAULT_CLIP",
    "DEFAULT_LONG_MODEL",
    "DEFAULT_MODEL",
    "MSG_BAD_COUNTS",
    "MSG_NO_FILE",
    "MSG_UNKNOWN_MODEL",
    "MSG_URL_NEEDS_KEY",
    "SCENARIOS",
    "BareEngine",
    "BenchmarkError",
    "BenchmarkOptions",
    "LocalPlatform",
    "benchmark_run",
    "parse_scenarios",
    "parse_workers",
    "report_lines",
]

# After an answer the platform still records the task's result, settles usage and so on: let it
# finish before timing the bare engine, which would otherwise run slower for it (and so hide
# part of the platform's cost).
SETTLE_SECONDS = 0.25


Progress = Callable[[str], None]


def deployment_worker_pids(model_id: str) -> list[int]:
    """Workers of an existing deployment that run on this machine, from the heartbeats in the
    configured database; empty when that database is not the deployment's or not readable."""
    from django.db import DatabaseError

    from ops.models import WorkerHeartbeat

    try:
        rows = list(
            WorkerHeartbeat.objects.filter(hostname=socket.gethostname()).values_list(
                "pid", "loaded_models"
            )
        )
    except DatabaseError:
        return []
    return [pid for pid, models in rows if model_id in (models or []) and process_memory(pid)]


# --- The run ------------------------------------------------------------------------------------


def _measure_sync(
    *,
    bare: BareEngine,
    client: ApiClient,
    platform: LocalPlatform | None,
    options: BenchmarkOptions,
    figures: Figures,
    progress: Progress,
) -> None:
    """Bare engine and API request in turns, one at a time."""
    conn = client.connect()
    cpu_before = platform.cpu_seconds() if platform is not None else None
    for index in range(options.runs):
        seconds, text, _ = bare.run(options.clip)
        figures.bare_times.append(seconds)
        figures.bare_cpu.append(bare.last_cpu)
        figures.texts.add(text)
        conn = client.fresh(conn)
        seconds, text = client.transcribe(conn)
        figures.api_times.append(seconds)
        figures.texts.add(text)
        figures.api_texts.add(text)
        time.sleep(SETTLE_SECONDS)
        progress(
            f"sync {index + 1}/{options.runs}: bare {figures.bare_times[-1]:.3f} s, "
            f"api {seconds:.3f} s"
        )
    conn.close()
    if platform is not None and cpu_before is not None:
        figures.platform_cpu = (platform.cpu_seconds() - cpu_before) / options.runs


def _measure_concurrent(
    *,
    bare: BareEngine,
    client: ApiClient,
    audio_seconds: float,
    options: BenchmarkOptions,
    figures: Figures,
    progress: Progress,
) -> None:
    """Rounds of N requests at once, each followed by N bare runs one after the other."""
    for index in range(options.rounds):
        wall, latencies, texts = client.concurrent(options.concurrency)
        figures.concurrent_rates.append(options.concurrency * audio_seconds / wall)
        figures.latencies.extend(latencies)
        figures.texts.update(texts)
        figures.api_texts.update(texts)
        time.sleep(SETTLE_SECONDS)
        spent = 0.0
        for _ in range(options.concurrency):
            seconds, text, _ = bare.run(options.clip)
            spent += seconds
            figures.texts.add(text)
        figures.sequential_rates.append(options.concurrency * audio_seconds / spent)
        progress(
            f"concurrent {index + 1}/{options.rounds}: {options.concurrency} requests in "
            f"{wall:.3f} s = {figures.concurrent_rates[-1]:.1f} audio s/s; bare sequential "
            f"{figures.sequential_rates[-1]:.1f} audio s/s"
        )


def short_run(*, options: BenchmarkOptions, progress: Progress) -> dict[str, Any]:
    """The short scenario: one clip, bare engine and API interleaved, then concurrent rounds,
    the first request after start and the workers' memory."""
    model_id = resolve_model(options.model)
    load_before = os.getloadavg()
    progress(f"loading {options.model} for the bare engine")
    bare_threads = (
        settings.WHISPER_CPU_THREADS if options.bare_threads is None else options.bare_threads
    )
    bare = BareEngine(model_id=model_id, threads=bare_threads)
    _, bare_text, audio_seconds = bare.run(options.clip)  # the first inference warms up
    figures = Figures()
    platform: LocalPlatform | None = None
    # faster-whisper runs gc.collect() on every file it decodes, and this process has Django
    # loaded: without this the bare engine would pay for walking Django's objects, which a
    # bare faster-whisper process does not have (the workers freeze theirs the same way).
    gc.collect()
    gc.freeze()
    try:
        if options.url:
            url, key = options.url, options.key or ""
        else:
            platform = LocalPlatform(model_id=model_id, preload_all=options.preload_all)
            progress(f"starting a platform in {platform.var_dir} ({settings.Q_WORKERS} workers)")
            platform.prepare(tenant=LocalPlatform.TENANT, name="Benchmark")
            platform.start(workers_ready=settings.Q_WORKERS, model=model_id)
            url, key = platform.url, platform.key
        client = ApiClient(url=url, key=key, clip=options.clip, model=options.model)
        if platform is not None:
            conn = client.connect()
            figures.first_request, _ = client.transcribe(conn)
            conn.close()
            progress(f"first request after the workers started: {figures.first_request:.3f} s")
        conn = client.connect()
        for index in range(options.warmup):
            conn = client.fresh(conn)
            client.transcribe(conn)
            progress(f"warm-up {index + 1}/{options.warmup}")
        conn.close()
        measuring = {"bare": bare, "client": client, "options": options, "figures": figures}
        _measure_sync(platform=platform, progress=progress, **measuring)
        _measure_concurrent(audio_seconds=audio_seconds, progress=progress, **measuring)
        pids = (
            platform.worker_pids(model=model_id) if platform else deployment_worker_pids(model_id)
        )
        figures.workers = {pid: mem for pid in pids if (mem := process_memory(pid)) is not None}
    finally:
        gc.unfreeze()
        if platform is not None:
            progress("stopping the platform")
            platform.stop()
    progress("measuring a bare engine process's memory")
    bare_memory = bare_process_memory(bare, options.clip)
    return report_build(
        options=options,
        figures=figures,
        url=url,
        platform=platform,
        bare_threads=bare_threads,
        bare_text=bare_text,
        bare_memory=bare_memory,
        audio_seconds=audio_seconds,
        load_before=load_before,
    )


def benchmark_run(*, options: BenchmarkOptions, progress: Progress) -> dict[str, Any]:
    """Run the chosen scenarios one after the other; the report is a JSON-able dict (see
    `report_lines`): the short scenario's figures at its top level, as before there were
    others, and each other scenario's under its name."""
    check(options)
    # faster-whisper logs every clip's duration at INFO, httpx every request (the readiness
    # polls included): noise between the progress lines.
    for name in ("faster_whisper", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    report: dict[str, Any] = {"scenarios": list(options.scenarios)}
    if "short" in options.scenarios:
        report.update(short_run(options=options, progress=progress))
    if "long" in options.scenarios:
        report["long"] = long_run(options=options, progress=progress)
    if "fairness" in options.scenarios:
        report["fairness"] = fairness_run(options=options, progress=progress)
    if "diarization" in options.scenarios:
        report["diarization"] = diarization_run(
            model=options.model, runs=max(1, options.long_runs), progress=progress
        )
    if "realtime" in options.scenarios:
        report["realtime"] = realtime_run(options=options, progress=progress)
    if "accuracy" in options.scenarios:
        report["accuracy"] = accuracy_run(options=options, progress=progress)
    return report
