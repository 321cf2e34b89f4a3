"""A steady load of synchronous, streaming and async requests from three tenants, and
realtime sessions from the last of them (realtime.py), each answer classified by what a client
can do with it.

A prober besides (GET /v1/models twice a second) shows what a new request gets at any
moment. One client thread per tenant, each sending in turn a synchronous transcription, a streaming
one and an async job, at most one request per PACE seconds, a new one once the last is
answered (a client that waits, as a real one does). A short clip keeps a decode cheap on a
shared machine. An answer is one of:

    ok                 200 (202 for a job), a stream ending in `transcript.text.done`
    <status> <code>    an OpenAI error envelope (`503 service_unavailable`), or a stream's
                       error event (`stream <code>`)
    html <status>      an answer that is not the envelope (an HTML page, a proxy's text)
    cut                a stream that ended with neither `done` nor an error event (retryable
                       only when the connection itself was cut: the client's read raised)
    hang               no answer within the client's timeout (the job timeout and a margin)
    refused            no connection (the web process is gone)

`retryable` says whether a client built for OpenAI would retry it (a 5xx or 429 envelope with
Retry-After, a stream's error event), as issue 29 asks of every fault."""

import io
import json
import threading
import time
from dataclasses import dataclass, field
from functools import cache

import httpx

from tools.live_platform import BASE_DIR

PACE = 1.0
CLIP_SECONDS = 4.0
KINDS = ("sync", "stream", "async")
PROBE_EVERY = 0.5
PROBE_TIMEOUT = 30.0


@cache
def clip() -> bytes:
    """The first CLIP_SECONDS of tests/data/jfk.flac as 16 kHz mono WAV (words, not silence:
    a decode that does real work)."""
    import av
    import numpy as np
    from faster_whisper.audio import decode_audio

    samples = decode_audio(str(BASE_DIR / "tests" / "data" / "jfk.flac"), sampling_rate=16000)
    pcm = (np.clip(samples[: int(CLIP_SECONDS * 16000)], -1, 1) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


@dataclass
class Answer:
    tenant: str
    kind: str
    started: float  # time.monotonic()
    ended: float
    outcome: str  # "ok" or the kind of error (module docstring)
    retryable: bool = True
    job_id: str = ""


@dataclass
class Load:
    api_base: str
    keys: dict[str, str]
    timeout: float
    realtime: bool = True  # a realtime session client besides (realtime.py)
    pace: float = PACE  # seconds between a client's requests at most (the soak sets its own)
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # thread id -> (tenant, kind, started) of the request it is waiting for
    _in_flight: dict[int, tuple[str, str, float]] = field(default_factory=dict)
    _stopped: bool = False

    def start(self) -> None:
        clip()
        for tenant in self.keys:
            thread = threading.Thread(target=self._client, args=(tenant,), daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.realtime:
            tenant = list(self.keys)[-1]
            thread = threading.Thread(target=self._realtime, args=(tenant,), daemon=True)
            thread.start()
            self._threads.append(thread)
        prober = threading.Thread(target=self._prober, daemon=True)
        prober.start()
        self._threads.append(prober)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 10)
        # A request still unanswered now is a hang, not an answer the table never shows (a
        # realtime session's own waits, added up, outlast the join).
        with self._lock:
            self._stopped = True
            for tenant, kind, started in self._in_flight.values():
                self.answers.append(Answer(tenant, kind, started, time.monotonic(), "hang", False))

    def _sending(self, tenant: str, kind: str, started: float) -> None:
        with self._lock:
            self._in_flight[threading.get_ident()] = (tenant, kind, started)

    def _answered(self, answer: Answer) -> None:
        with self._lock:
            self._in_flight.pop(threading.get_ident(), None)
            if not self._stopped:
                self.answers.append(answer)

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def _client(self, tenant: str) -> None:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        turn = 0
        with httpx.Client(base_url=self.api_base, headers=headers, timeout=self.timeout) as http:
            while not self._stop.is_set():
                kind = KINDS[turn % len(KINDS)]
                turn += 1
                started = time.monotonic()
                self._sending(tenant, kind, started)
                answer = request(http, tenant, kind, started)
                self._answered(answer)
                self._stop.wait(max(0.0, self.pace - (time.monotonic() - started)))

    def _realtime(self, tenant: str) -> None:
        """One realtime session after another (each about the clip's length), for one tenant."""
        from .realtime import realtime_session

        while not self._stop.is_set():
            self._sending(tenant, "realtime", time.monotonic())
            answer = realtime_session(
                api_base=self.api_base, key=self.keys[tenant], tenant=tenant, timeout=self.timeout
            )
            self._answered(answer)
            self._stop.wait(max(0.0, self.pace - (answer.ended - answer.started)))

    def _prober(self) -> None:
        """GET /v1/models every PROBE_EVERY seconds (authenticated, so the database is read
        and a usage row written): what a new request gets at any moment, and when the platform
        serves again, which the clients above, each waiting for its answer, do not show."""
        tenant = next(iter(self.keys))
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        with httpx.Client(base_url=self.api_base, headers=headers, timeout=PROBE_TIMEOUT) as http:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    outcome, retryable = _classify(http.get("/models"))
                except httpx.TimeoutException:
                    outcome, retryable = "hang", False
                except httpx.HTTPError as exc:
                    outcome, retryable = f"dropped {type(exc).__name__}", True
                with self._lock:
                    self.answers.append(
                        Answer(tenant, "probe", started, time.monotonic(), outcome, retryable)
                    )
                self._stop.wait(max(0.0, PROBE_EVERY - (time.monotonic() - started)))


def request(http: httpx.Client, tenant: str, kind: str, started: float) -> Answer:
    path = "/audio/jobs" if kind == "async" else "/audio/transcriptions"
    data = {"model": "tiny.en"}
    if kind == "stream":
        data["stream"] = "true"
    files = {"file": ("clip.wav", clip(), "audio/wav")}
    try:
        if kind == "stream":
            with http.stream("POST", path, data=data, files=files) as response:
                if response.status_code != 200:
                    response.read()
                    outcome, retryable = _classify(response)
                else:
                    outcome, retryable = _stream_outcome(response)
                return Answer(tenant, kind, started, time.monotonic(), outcome, retryable)
        response = http.post(path, data=data, files=files)
    except httpx.TimeoutException:
        return Answer(tenant, kind, started, time.monotonic(), "hang", False)
    except httpx.ConnectError:
        return Answer(tenant, kind, started, time.monotonic(), "refused", True)
    except httpx.HTTPError as exc:  # the connection dropped mid-answer
        return Answer(tenant, kind, started, time.monotonic(), f"dropped {type(exc).__name__}")
    outcome, retryable = _classify(response)
    job_id = ""
    if outcome == "ok" and kind == "async":
        job_id = response.json().get("id", "")
    return Answer(tenant, kind, started, time.monotonic(), outcome, retryable, job_id)


def _classify(response: httpx.Response) -> tuple[str, bool]:
    if response.status_code in (200, 202):
        return "ok", True
    try:
        error = response.json()["error"]
        code = error["code"]
    except (ValueError, KeyError, TypeError):
        # Not the envelope; the first words say whose answer it is (a page, a server's text).
        words = response.text[:40].split()
        return f"html {response.status_code} {'_'.join(words[:3])}", False
    # What the openai SDK retries (408, 409, 429 and any 5xx, 507 for a full disk included),
    # and told when.
    status = response.status_code
    retryable = (status in (408, 409, 429) or status >= 500) and (
        "retry-after" in response.headers and response.headers.get("x-should-retry") != "false"
    )
    return f"{response.status_code} {code}", retryable


def _stream_outcome(response: httpx.Response) -> tuple[str, bool]:
    try:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: ") :])
            if event.get("type") == "transcript.text.done":
                return "ok", True
            if event.get("type") == "error":
                return f"stream {event['error'].get('code')}", True
    except httpx.TimeoutException:
        return "hang", False
    except httpx.HTTPError:
        # The connection itself was cut (a web process killed): the client's read raises a
        # connection error, which it can retry, unlike a stream the server ended unfinished.
        return "cut", True
    return "cut", False
