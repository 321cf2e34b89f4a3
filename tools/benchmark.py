"""The platform against bare faster-whisper on the same clip (`manage.py benchmark`).

One run, interleaved so that a noisy machine slows both sides alike:
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
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from transcriptions import engine

from .live_platform import LivePlatform
from .measure import (
    ApiClient,
    BareEngine,
    BenchmarkError,
    bare_process_memory,
    process_memory,
)
from .report import report_build, report_lines

__all__ = ["BareEngine", "BenchmarkError", "BenchmarkOptions", "benchmark_run", "report_lines"]

DEFAULT_CLIP = engine.WARM_UP_CLIP  # 11 s of real speech that ships with the project
DEFAULT_MODEL = "tiny.en"

# After an answer the platform still records the task's result, settles usage and so on: let it
# finish before timing the bare engine, which would otherwise run slower for it (and so hide
# part of the platform's cost).
SETTLE_SECONDS = 0.25

MSG_UNKNOWN_MODEL = "Unknown model {model!r}: use one of {models}."
MSG_NO_FILE = "No such audio file: {path}"
MSG_URL_NEEDS_KEY = "--url needs --key, an API key of that deployment."
MSG_BAD_COUNTS = "--runs, --concurrency and --rounds must be at least 1, --warmup at least 0."


Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchmarkOptions:
    clip: Path = DEFAULT_CLIP
    model: str = DEFAULT_MODEL
    runs: int = 10
    concurrency: int = 8
    rounds: int = 3
    warmup: int = 2
    url: str | None = None
    key: str | None = None
    # None: as many as each worker uses (WHISPER_CPU_THREADS), so that only the platform
    # differs; 0: faster-whisper's own default (CTranslate2 takes min(4, cores)).
    bare_threads: int | None = None
    # Workers of the platform started here load only the benchmarked model, as the bare
    # process does; True: every model of WHISPER_PRELOAD_MODELS, as a default deployment.
    preload_all: bool = False


# --- A platform of its own ----------------------------------------------------------------------


class LocalPlatform(LivePlatform):
    """The embedded setup as `make run` starts it (tools/live_platform.py) over a temporary
    directory, with a tenant and a key made by the operator commands."""

    TENANT = "benchmark"

    def __init__(self, *, model_id: str, preload_all: bool = False) -> None:
        env = dict(os.environ)
        # The embedded setup, whatever this shell points at: never an operator's database,
        # Redis queue or media directory.
        for name in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "STATIC_ROOT"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            # Reassembled model files are reused, not rebuilt in the temporary directory.
            WHISPER_CACHE_DIR=str(settings.WHISPER_CACHE_DIR),
            # The concurrent rounds are one tenant's requests at once: measured as throughput,
            # not refused by the per-tenant cap on waiting requests (a fairness policy between
            # tenants, of which the benchmark has one).
            SYNC_WAITS_PER_TENANT="64",
        )
        if not preload_all:
            env["WHISPER_PRELOAD_MODELS"] = model_id
        super().__init__(var_dir=Path(tempfile.mkdtemp(prefix="whisper-benchmark-")), env=env)
        self.model_id = model_id
        self.preloaded = env.get("WHISPER_PRELOAD_MODELS") or ",".join(
            settings.WHISPER_PRELOAD_MODELS
        )
        self.cleanups.append(lambda: shutil.rmtree(self.var_dir, ignore_errors=True))


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


def _check(options: BenchmarkOptions) -> str:
    """The registry id of the benchmarked model, once the options are known to be usable."""
    model_id = engine.resolve_model_id(options.model)
    if model_id is None:
        models = ", ".join([*settings.WHISPER_MODEL_ALIASES, *settings.WHISPER_MODELS])
        raise BenchmarkError(MSG_UNKNOWN_MODEL.format(model=options.model, models=models))
    if not options.clip.is_file():
        raise BenchmarkError(MSG_NO_FILE.format(path=options.clip))
    if options.url and not options.key:
        raise BenchmarkError(MSG_URL_NEEDS_KEY)
    if min(options.runs, options.concurrency, options.rounds) < 1 or options.warmup < 0:
        raise BenchmarkError(MSG_BAD_COUNTS)
    return model_id


@dataclass
class _Figures:
    """What the measuring phases collect."""

    bare_times: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)
    api_times: list[float] = field(default_factory=list)
    platform_cpu: float | None = None  # CPU seconds of the whole platform per sync request
    concurrent_rates: list[float] = field(default_factory=list)
    sequential_rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    first_request: float | None = None
    workers: dict[int, dict[str, float]] = field(default_factory=dict)
    texts: set[str] = field(default_factory=set)


def _measure_sync(
    *,
    bare: BareEngine,
    client: ApiClient,
    platform: LocalPlatform | None,
    options: BenchmarkOptions,
    figures: _Figures,
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
    figures: _Figures,
    progress: Progress,
) -> None:
    """Rounds of N requests at once, each followed by N bare runs one after the other."""
    for index in range(options.rounds):
        wall, latencies, texts = client.concurrent(options.concurrency)
        figures.concurrent_rates.append(options.concurrency * audio_seconds / wall)
        figures.latencies.extend(latencies)
        figures.texts.update(texts)
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


def benchmark_run(*, options: BenchmarkOptions, progress: Progress) -> dict[str, Any]:
    """Run the whole benchmark; the report is a JSON-able dict (see `report_lines`)."""
    model_id = _check(options)
    load_before = os.getloadavg()
    # faster-whisper logs every clip's duration at INFO: noise between the progress lines.
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    progress(f"loading {options.model} for the bare engine")
    bare_threads = (
        settings.WHISPER_CPU_THREADS if options.bare_threads is None else options.bare_threads
    )
    bare = BareEngine(model_id=model_id, threads=bare_threads)
    _, bare_text, audio_seconds = bare.run(options.clip)  # the first inference warms up
    figures = _Figures()
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
