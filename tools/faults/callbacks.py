"""The load of the callback fault: one tenant submits many async jobs at once whose callback_url
accepts the connection and never answers (a hole); the other tenants submit async jobs whose
callbacks go to a receiver that answers 200 at once. What must hold: the others' callbacks
arrive soon after their jobs end (the hole's do not hold them up), and once the hole answers
again every callback is delivered by the retries, none pending for good."""

import contextlib
import io
import json
import socket
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from .invariants import jobs_settle
from .topology import TENANTS, Topology

# How late a well-behaved receiver's callback may arrive after its job ended: a few seconds
# on a loaded machine, far less than one attempt of a receiver that never answers (the
# fault's CALLBACK_TIMEOUT, a minute) that it would wait behind.
CALLBACK_LATE = 10.0
# How long the hole's callbacks are given, once it answers, to be delivered by the retries
# (the first retry is 30 s after a failed attempt; django-q2's scheduler looks twice a minute).
DELIVERED_WITHIN = 240.0
GOOD_EVERY = 10.0


def silence() -> bytes:
    """Half a second of silence: a job that ends within a second, so that its callback, not
    its decode, is what the fault measures (fifty 4 s clips would take minutes here)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 8000)
    return buffer.getvalue()


class Hole:
    """Accepts connections and never answers, until answer(): then it answers 200 to new
    ones (what it held is closed, as a receiver restarted)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.answering = False
        self.delivered: set[str] = set()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if not self.answering:
                self.held.append(conn)
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError, ValueError):
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.delivered.add(json.loads(body)["id"])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def answer(self) -> None:
        self.answering = True
        for conn in self.held:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self.answer()
        self.sock.close()


class Receiver(ThreadingHTTPServer):
    """Answers every callback 200 at once and notes when each job's arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}  # job id -> time.time()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/callback"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.arrived.setdefault(json.loads(body)["id"], time.time())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class CallbackLoad:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.hole = Hole()
        self.receiver = Receiver()
        self.hole_jobs: list[str] = []
        self.good_jobs: list[str] = []
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._good = threading.Thread(target=self._good_load, daemon=True)

    def _submit(self, tenant: str, callback_url: str) -> str:
        with httpx.Client(timeout=60) as http:
            response = http.post(
                f"{self.topology.platform.api_base}/audio/jobs",
                headers={"Authorization": f"Bearer {self.topology.keys[tenant]}"},
                data={"model": "tiny.en", "callback_url": callback_url},
                files={"file": ("silence.wav", silence(), "audio/wav")},
            )
        if response.status_code != 202:
            self.refused.append(f"{response.status_code} {response.text[:80]}")
            return ""
        return response.json()["id"]

    def start(self, *, hanging: int) -> None:
        self._good.start()
        hole_url = f"http://127.0.0.1:{self.hole.port}/callback"
        with ThreadPoolExecutor(8) as pool:
            ids = pool.map(lambda _: self._submit(TENANTS[0], hole_url), range(hanging))
            self.hole_jobs = [job_id for job_id in ids if job_id]

    def _good_load(self) -> None:
        while not self._stop.is_set():
            for tenant in TENANTS[1:]:
                job_id = self._submit(tenant, self.receiver.url)
                if job_id:
                    self.good_jobs.append(job_id)
            self._stop.wait(GOOD_EVERY)

    def finish(self) -> list[str]:
        """Stop the good load; wait for every callback; what went wrong, in words."""
        self._stop.set()
        self._good.join(120)
        try:
            return self._problems()
        finally:
            self.hole.close()
            self.receiver.shutdown()

    def _problems(self) -> list[str]:
        jobs_settle(self.topology.platform, timeout=DELIVERED_WITHIN)  # a slow machine's backlog
        deadline = time.monotonic() + DELIVERED_WITHIN
        wanted = set(self.hole_jobs)
        while time.monotonic() < deadline:
            if wanted <= self.hole.delivered and set(self.good_jobs) <= set(self.receiver.arrived):
                break
            time.sleep(1)
        ended = dict(
            self.topology.platform.query(
                "SELECT public_id, finished_at FROM transcriptions_job WHERE public_id = ANY(%s)",
                (self.good_jobs,),
            )
        )
        late = sorted(
            self.receiver.arrived[job] - _epoch(ended[job])
            for job in self.good_jobs
            if job in self.receiver.arrived and ended.get(job)
        )
        print(
            f"   callbacks: {len(self.hole_jobs)} to the hole ({len(self.hole.delivered)}"
            f" delivered once it answered), {len(self.good_jobs)} to a good receiver"
            f" ({len(self.receiver.arrived)} arrived; after the job's end: median"
            f" {late[len(late) // 2] if late else 0:.1f} s, slowest {max(late, default=0):.1f} s)"
            + (f"; refused submissions: {self.refused[:3]}" if self.refused else ""),
            flush=True,
        )
        found = []
        if late and late[-1] > CALLBACK_LATE:
            held = sum(1 for seconds in late if seconds > CALLBACK_LATE)
            found.append(f"{held} good callbacks held up (slowest {late[-1]:.0f} s)")
        never = len(set(self.good_jobs) - set(self.receiver.arrived))
        never += len(wanted - self.hole.delivered)
        if never:
            found.append(f"{never} callbacks not delivered {DELIVERED_WITHIN:.0f} s later")
        return found


def _epoch(value: datetime) -> float:
    return value.timestamp()
