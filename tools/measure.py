"""What the benchmark measures with: the bare engine (faster-whisper in this process and in a
fresh one, for memory) and a client of the platform's API."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

import speech as engine

# gunicorn closes an idle keep-alive connection after 5 s; reconnect before that.
IDLE_RECONNECT_SECONDS = 2.0
REQUEST_TIMEOUT = 600.0
START_TIMEOUT = 300.0


class BenchmarkError(Exception):
    """The benchmark cannot run or a request failed; the message says why."""


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


class ApiClient:
    """POST /v1/audio/transcriptions with httpx, one keep-alive connection per caller (the
    openai SDK, itself on httpx, keeps its connections alive too)."""

    def __init__(self, *, url: str, key: str, clip: Path, model: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BenchmarkError(f"--url must be http(s)://host[:port][/prefix], not {url!r}")
        self.host = parts.hostname
        prefix = parts.path.rstrip("/")
        base = f"{parts.scheme}://{parts.netloc}"
        self.url = f"{base}{prefix.removesuffix('/v1')}/v1/audio/transcriptions"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.fields = {"model": model, "response_format": "json"}
        self.file = (clip.name, clip.read_bytes(), "application/octet-stream")

    def connect(self) -> httpx.Client:
        # gunicorn closes an idle keep-alive connection after 5 s: httpx drops it first and
        # reconnects outside the timed part, rather than time a request on a closed socket.
        limits = httpx.Limits(max_connections=1, keepalive_expiry=IDLE_RECONNECT_SECONDS)
        return httpx.Client(timeout=REQUEST_TIMEOUT, limits=limits)

    def fresh(self, conn: httpx.Client | None) -> httpx.Client:
        """The connection (httpx replaces an expired keep-alive socket by itself)."""
        return conn if conn is not None else self.connect()

    def transcribe(self, conn: httpx.Client) -> tuple[float, str]:
        """(seconds from sending to the whole answer read, text)."""
        start = time.perf_counter()
        try:
            response = conn.post(
                self.url, headers=self.headers, data=self.fields, files={"file": self.file}
            )
        except httpx.HTTPError as exc:
            raise BenchmarkError(f"the request to {self.host} failed: {exc!r}") from exc
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise BenchmarkError(
                f"the API answered {response.status_code}: {response.content[:500]!r}"
            )
        return elapsed, response.json()["text"]

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


def api_base(url: str) -> str:
    """`https://host[:port][/prefix]` (with or without a trailing /v1) -> its `.../v1`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BenchmarkError(f"--url must be http(s)://host[:port][/prefix], not {url!r}")
    prefix = parts.path.rstrip("/").removesuffix("/v1")
    return f"{parts.scheme}://{parts.netloc}{prefix}/v1"


class JobsClient:
    """/v1/audio/jobs of one tenant: submit (202 at once), read a job's status, delete it
    (which cancels it first when it has not ended)."""

    FINISHED = frozenset({"succeeded", "failed", "cancelled"})

    def __init__(self, *, url: str, key: str) -> None:
        self.url = f"{api_base(url)}/audio/jobs"
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {key}"}, timeout=REQUEST_TIMEOUT
        )

    def _call(self, method: str, url: str, expect: int, **kwargs) -> dict:
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise BenchmarkError(f"{method} {url} failed: {exc!r}") from exc
        if response.status_code != expect:
            raise BenchmarkError(
                f"{method} {url} answered {response.status_code}: {response.content[:500]!r}"
            )
        return response.json()

    def submit(self, clip: Path, *, model: str) -> str:
        """The new job's id."""
        files = {"file": (clip.name, clip.read_bytes(), "application/octet-stream")}
        data = {"model": model, "response_format": "json"}
        return self._call("POST", self.url, 202, data=data, files=files)["id"]

    def status(self, job_id: str) -> str:
        return self._call("GET", f"{self.url}/{job_id}", 200)["status"]

    def delete(self, job_id: str) -> None:
        self._call("DELETE", f"{self.url}/{job_id}", 200)

    def close(self) -> None:
        self.client.close()
