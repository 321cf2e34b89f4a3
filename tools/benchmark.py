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
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from transcriptions import engine

DEFAULT_CLIP = engine.WARM_UP_CLIP  # 11 s of real speech that ships with the project
DEFAULT_MODEL = "tiny.en"

# The targets of issue 6, on a 2-core CPU machine with tiny.en.
TARGET_API_OVER_BARE = 1.03
TARGET_CONCURRENT_OVER_BARE = 1.25
TARGET_FIRST_OVER_WARM = 1.20
TARGET_WORKER_EXTRA_MB = 150.0

# gunicorn closes an idle keep-alive connection after 5 s; reconnect before that, outside the
# timed part, rather than time a request that fails on a closed socket.
IDLE_RECONNECT_SECONDS = 2.0
REQUEST_TIMEOUT = 600.0
# After an answer the platform still records the task's result, settles usage and so on: let it
# finish before timing the bare engine, which would otherwise run slower for it (and so hide
# part of the platform's cost).
SETTLE_SECONDS = 0.25
START_TIMEOUT = 300.0

MSG_UNKNOWN_MODEL = "Unknown model {model!r}: use one of {models}."
MSG_NO_FILE = "No such audio file: {path}"
MSG_URL_NEEDS_KEY = "--url needs --key, an API key of that deployment."
MSG_BAD_COUNTS = "--runs, --concurrency and --rounds must be at least 1, --warmup at least 0."


Progress = Callable[[str], None]


class BenchmarkError(Exception):
    """The benchmark cannot run or a request failed; the message says why."""


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


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": [round(v, 4) for v in values],
    }


# --- The bare engine ----------------------------------------------------------------------------


class BareEngine:
    """faster-whisper alone, as an operator would run it, with the platform's model files and
    decode settings."""

    def __init__(self, *, model_id: str, threads: int) -> None:
        from faster_whisper import WhisperModel

        spec = engine.registry()[model_id]
        self.directory = str(engine.model_directory(spec))
        self.device, default_compute = engine.compute_device()
        self.compute_type = spec.compute_type or default_compute
        self.threads = threads
        self.last_cpu = 0.0
        self.options = engine.decode_options()
        self.model = WhisperModel(
            self.directory,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=threads,
        )

    def run(self, clip: Path) -> tuple[float, str, float]:
        """(seconds, text, audio duration) of one transcription, decoding the file included;
        its CPU seconds are left in `last_cpu`."""
        cpu = time.process_time()
        start = time.perf_counter()
        segments, info = self.model.transcribe(str(clip), **self.options)
        text = "".join(segment.text for segment in segments).strip()
        elapsed = time.perf_counter() - start
        self.last_cpu = time.process_time() - cpu
        return elapsed, text, info.duration


_BARE_PROCESS = """
import json, sys
from faster_whisper import WhisperModel
directory, device, compute_type, threads, clip, options = sys.argv[1:7]
model = WhisperModel(directory, device=device, compute_type=compute_type, cpu_threads=int(threads))
segments, _ = model.transcribe(clip, **json.loads(options))
for _ in segments:
    pass
print(json.dumps({"rss": open("/proc/self/status").read()}))
"""


def bare_process_memory(bare: BareEngine, clip: Path) -> dict[str, float]:
    """RSS of a fresh process that only loads faster-whisper and the model and transcribes the
    clip once: what the platform's workers are compared with."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _BARE_PROCESS,
            bare.directory,
            bare.device,
            bare.compute_type,
            str(bare.threads),
            str(clip),
            json.dumps(bare.options),
        ],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"the bare engine process failed:\n{done.stderr[-2000:]}")
    return _memory_from_status(json.loads(done.stdout.strip().splitlines()[-1])["rss"])


def _memory_from_status(status: str) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) in MB from a /proc/<pid>/status text."""
    fields = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB
    return {"rss_mb": fields["VmRSS"], "peak_mb": fields["VmHWM"]}


def process_memory(pid: int) -> dict[str, float] | None:
    try:
        return _memory_from_status(Path(f"/proc/{pid}/status").read_text())
    except (OSError, KeyError):
        return None  # gone, or not Linux


# --- The API ------------------------------------------------------------------------------------


def _multipart(fields: dict[str, str], *, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    body = b"".join(parts) + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class ApiClient:
    """POST /v1/audio/transcriptions with the standard library, one keep-alive connection per
    caller (the openai SDK keeps its connections alive too)."""

    def __init__(self, *, url: str, key: str, clip: Path, model: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BenchmarkError(f"--url must be http(s)://host[:port][/prefix], not {url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port
        prefix = parts.path.rstrip("/")
        self.path = f"{prefix.removesuffix('/v1')}/v1/audio/transcriptions"
        self.key = key
        self.body, self.content_type = _multipart(
            {"model": model, "response_format": "json"}, filename=clip.name, data=clip.read_bytes()
        )

    def connect(self) -> HTTPConnection:
        cls = HTTPSConnection if self.https else HTTPConnection
        conn = cls(self.host, self.port, timeout=REQUEST_TIMEOUT)
        conn.connect()
        conn.last_used = time.monotonic()  # type: ignore[attr-defined]
        return conn

    def fresh(self, conn: HTTPConnection | None) -> HTTPConnection:
        """The connection, or a new one when it may have been closed by the server meanwhile."""
        if conn is not None and time.monotonic() - conn.last_used < IDLE_RECONNECT_SECONDS:  # type: ignore[attr-defined]
            return conn
        if conn is not None:
            conn.close()
        return self.connect()

    def transcribe(self, conn: HTTPConnection) -> tuple[float, str]:
        """(seconds from sending to the whole answer read, text)."""
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": self.content_type,
            "Content-Length": str(len(self.body)),
        }
        start = time.perf_counter()
        try:
            conn.request("POST", self.path, body=self.body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, HTTPException) as exc:
            raise BenchmarkError(f"the request to {self.host} failed: {exc!r}") from exc
        elapsed = time.perf_counter() - start
        conn.last_used = time.monotonic()  # type: ignore[attr-defined]
        if response.status != 200:
            raise BenchmarkError(f"the API answered {response.status}: {data[:500]!r}")
        return elapsed, json.loads(data)["text"]

    def concurrent(self, requests: int) -> tuple[float, list[float], list[str]]:
        """`requests` requests sent at once: (wall seconds, each latency, each text)."""
        connections = [self.connect() for _ in range(requests)]
        results: list[tuple[float, str] | BaseException | None] = [None] * requests
        ends = [0.0] * requests
        barrier = threading.Barrier(requests + 1)

        def one(index: int) -> None:
            barrier.wait()
            try:
                results[index] = self.transcribe(connections[index])
            except BaseException as exc:
                results[index] = exc
            ends[index] = time.perf_counter()

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(requests)]
        for thread in threads:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        for conn in connections:
            conn.close()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        done = [r for r in results if isinstance(r, tuple)]
        return max(ends) - start, [r[0] for r in done], [r[1] for r in done]


# --- A platform of its own ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalPlatform:
    """`manage.py serve` (gunicorn + django-q2 workers) on a free port over a temporary SQLite
    directory, the embedded setup as `make run` starts it, with a tenant and a key made by the
    operator commands."""

    TENANT = "benchmark"

    def __init__(self, *, model_id: str, preload_all: bool = False) -> None:
        self.model_id = model_id
        self.var_dir = Path(tempfile.mkdtemp(prefix="whisper-benchmark-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = ""
        self.process: subprocess.Popen | None = None
        self.log_path = self.var_dir / "serve.log"
        env = dict(os.environ)
        # The embedded setup, whatever this shell points at: never an operator's database,
        # Redis queue or media directory.
        for name in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "STATIC_ROOT"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            PLATFORM_VAR_DIR=str(self.var_dir),
            # Reassembled model files are reused, not rebuilt in the temporary directory.
            WHISPER_CACHE_DIR=str(settings.WHISPER_CACHE_DIR),
            PORT=str(self.port),
        )
        if not preload_all:
            env["WHISPER_PRELOAD_MODELS"] = model_id
        self.preloaded = env.get("WHISPER_PRELOAD_MODELS") or ",".join(
            settings.WHISPER_PRELOAD_MODELS
        )
        self.env = env

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
            env=self.env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        if done.returncode != 0:
            raise BenchmarkError(f"manage.py {args[0]} failed:\n{done.stderr[-2000:]}")
        return done.stdout.strip()

    def prepare(self) -> None:
        (self.var_dir / "static").mkdir()  # whitenoise warns about a missing STATIC_ROOT
        self.manage("migrate", "--noinput")
        self.manage("create_tenant", self.TENANT, "--name", "Benchmark")
        self.key = self.manage("create_api_key", self.TENANT, "--name", "benchmark")

    def start(self, *, workers: int) -> None:
        """Start the server and return once every worker has loaded the model."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(settings.BASE_DIR / "manage.py"),
                "serve",
                "--port",
                str(self.port),
            ],
            env=self.env,
            cwd=settings.BASE_DIR,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the server exited:\n{self.log()}")
            if len(self.worker_pids()) >= workers and self._healthy():
                return
            time.sleep(0.1)
        raise BenchmarkError(f"the server was not ready in {START_TIMEOUT:.0f} s:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            conn = HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        """Worker processes that have loaded the benchmarked model (their heartbeat rows)."""
        try:
            with sqlite3.connect(self.var_dir / "db.sqlite3", timeout=5) as conn:
                rows = conn.execute(
                    "SELECT pid, loaded_models FROM transcriptions_workerheartbeat"
                ).fetchall()
        except sqlite3.Error:
            return []
        return [pid for pid, models in rows if self.model_id in json.loads(models or "[]")]

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by every process of the platform (its process group): less
        sensitive than wall time to other load on the machine (waiting for a core costs none)."""
        if self.process is None:
            return None
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if int(fields[2]) == self.process.pid:  # pgrp
                total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
        return total / os.sysconf("SC_CLK_TCK")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.var_dir, ignore_errors=True)


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


def _target(name: str, value: float | None, limit: float, *, at_most: bool) -> dict[str, Any]:
    met = None if value is None else (value <= limit if at_most else value >= limit)
    return {"name": name, "value": value, "limit": limit, "at_most": at_most, "met": met}


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
            platform.prepare()
            platform.start(workers=settings.Q_WORKERS)
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
        pids = platform.worker_pids() if platform else deployment_worker_pids(model_id)
        figures.workers = {pid: mem for pid in pids if (mem := process_memory(pid)) is not None}
    finally:
        gc.unfreeze()
        if platform is not None:
            progress("stopping the platform")
            platform.stop()
    progress("measuring a bare engine process's memory")
    bare_memory = bare_process_memory(bare, options.clip)
    return _report(
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


def _report(
    *,
    options: BenchmarkOptions,
    figures: _Figures,
    url: str,
    platform: LocalPlatform | None,
    bare_threads: int,
    bare_text: str,
    bare_memory: dict[str, float],
    audio_seconds: float,
    load_before: tuple[float, float, float],
) -> dict[str, Any]:
    f = figures
    api_median = statistics.median(f.api_times)
    api_over_bare = api_median / statistics.median(f.bare_times)
    concurrent_over_bare = statistics.median(f.concurrent_rates) / statistics.median(
        f.sequential_rates
    )
    first_over_warm = f.first_request / api_median if f.first_request is not None else None
    worker_rss = max((m["rss_mb"] for m in f.workers.values()), default=None)
    worker_extra = worker_rss - bare_memory["rss_mb"] if worker_rss is not None else None
    cpu_bare = statistics.median(f.bare_cpu)
    if platform is not None:
        layout = {
            "workers": settings.Q_WORKERS,
            "cpu_threads_per_worker": settings.WHISPER_CPU_THREADS,
            "preloaded_models": platform.preloaded.split(","),
        }
    else:
        layout = {"workers": len(f.workers) or None}
    return {
        "clip": {
            "path": str(options.clip),
            "bytes": options.clip.stat().st_size,
            "audio_seconds": round(audio_seconds, 3),
        },
        "model": options.model,
        "machine": {
            "cpus": settings.CPU_COUNT,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        },
        "options": {
            "runs": options.runs,
            "concurrency": options.concurrency,
            "rounds": options.rounds,
            "warmup": options.warmup,
        },
        "platform": {"url": url, "started_here": platform is not None, **layout},
        "bare": {"cpu_threads": bare_threads, "seconds": summary(f.bare_times)},
        "api_sync": {"seconds": summary(f.api_times)},
        "api_over_bare": api_over_bare,
        # CPU seconds per transcription: the bare engine's, and all the platform's processes'
        # per synchronous request (their idle work while the bare engine ran included).
        "cpu": {
            "bare_per_run": summary(f.bare_cpu),
            "platform_per_request": f.platform_cpu,
            "over_bare": f.platform_cpu / cpu_bare if f.platform_cpu is not None else None,
        },
        "concurrent": {
            "requests": options.concurrency,
            "rounds": options.rounds,
            "audio_seconds_per_second": summary(f.concurrent_rates),
            "bare_sequential_audio_seconds_per_second": summary(f.sequential_rates),
            "latency_seconds": summary(f.latencies),
            "over_bare": concurrent_over_bare,
        },
        "first_request": {"seconds": f.first_request, "over_warm": first_over_warm},
        "memory": {
            "workers": {str(pid): mem for pid, mem in f.workers.items()},
            "worker_rss_mb": worker_rss,
            "bare_process": bare_memory,
            "worker_extra_mb": worker_extra,
        },
        "transcript": {"bare": bare_text, "all_identical": f.texts == {bare_text}},
        "targets": [
            _target("api_over_bare", api_over_bare, TARGET_API_OVER_BARE, at_most=True),
            _target(
                "concurrent_over_bare",
                concurrent_over_bare,
                TARGET_CONCURRENT_OVER_BARE,
                at_most=False,
            ),
            _target("first_over_warm", first_over_warm, TARGET_FIRST_OVER_WARM, at_most=True),
            _target("worker_extra_mb", worker_extra, TARGET_WORKER_EXTRA_MB, at_most=True),
        ],
    }


# --- Output -------------------------------------------------------------------------------------


def _verdict(target: dict[str, Any]) -> str:
    sign = "<=" if target["at_most"] else ">="
    state = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
    return f"(target {sign} {target['limit']:g}: {state})"


def _spread(stats: dict[str, Any], unit: str, digits: int = 3) -> str:
    return (
        f"median {stats['median']:.{digits}f} {unit}  min {stats['min']:.{digits}f}  "
        f"max {stats['max']:.{digits}f}  (n={stats['n']})"
    )


def report_lines(report: dict[str, Any]) -> list[str]:
    """The human-readable summary: figures first, each target's verdict beside its figure."""
    targets = {t["name"]: t for t in report["targets"]}
    platform = report["platform"]
    concurrent = report["concurrent"]
    first = report["first_request"]
    memory = report["memory"]
    machine = report["machine"]
    cpu = report["cpu"]
    where = "started here" if platform["started_here"] else "existing deployment"
    layout = (
        f", {platform['workers']} workers x {platform['cpu_threads_per_worker']} threads, "
        f"preloading {', '.join(platform['preloaded_models'])}"
        if platform["started_here"]
        else ""
    )
    lines = [
        f"clip               {report['clip']['path']} ({report['clip']['audio_seconds']:.2f} s "
        f"of audio), model {report['model']}",
        f"machine            {machine['cpus']} cpus, load {machine['load_before'][0]:.2f} before, "
        f"{machine['load_after'][0]:.2f} after",
        f"platform           {platform['url']} ({where}{layout})",
        f"bare engine        {_spread(report['bare']['seconds'], 's')}  "
        f"[cpu_threads={report['bare']['cpu_threads'] or 'default'}]",
        f"api warm sync      {_spread(report['api_sync']['seconds'], 's')}",
        f"api / bare         {report['api_over_bare']:.3f}  {_verdict(targets['api_over_bare'])}",
        *(
            [
                f"cpu per request    platform {cpu['platform_per_request']:.3f} s, bare "
                f"{cpu['bare_per_run']['median']:.3f} s = {cpu['over_bare']:.3f} x  (not a target; "
                "less sensitive than wall time to other load)"
            ]
            if cpu["platform_per_request"] is not None
            else []
        ),
        f"concurrent x{concurrent['requests']:<5} "
        f"{_spread(concurrent['audio_seconds_per_second'], 'audio s/s', 1)}",
        f"bare sequential    "
        f"{_spread(concurrent['bare_sequential_audio_seconds_per_second'], 'audio s/s', 1)}",
        f"concurrent / bare  {concurrent['over_bare']:.3f}  "
        f"{_verdict(targets['concurrent_over_bare'])}",
    ]
    if first["seconds"] is None:
        lines.append("first request      skipped (an existing deployment was not started here)")
    else:
        lines.append(
            f"first request      {first['seconds']:.3f} s = {first['over_warm']:.3f} x warm  "
            f"{_verdict(targets['first_over_warm'])}"
        )
    bare_rss = memory["bare_process"]["rss_mb"]
    if memory["worker_rss_mb"] is None:
        lines.append(
            f"worker RSS         not found on this machine (bare process {bare_rss:.0f} MB)"
        )
    else:
        lines.append(
            f"worker RSS         {memory['worker_rss_mb']:.0f} MB (largest of "
            f"{len(memory['workers'])}), bare process {bare_rss:.0f} MB, "
            f"{memory['worker_extra_mb']:+.0f} MB  {_verdict(targets['worker_extra_mb'])}"
        )
    same = "identical" if report["transcript"]["all_identical"] else "DIFFERENT"
    lines.append(f"transcripts        {same}: {report['transcript']['bare']!r}")
    return lines
