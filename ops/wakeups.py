"""Wake-ups between the processes of one machine when there is no Redis (the embedded setup).

A process about to sleep until something happens (a job finishing, a task being queued) binds
a Unix datagram socket named after that thing; whoever makes it happen sends one byte to that
name. The sleeper wakes at once instead of at its next poll, and an idle sleeper costs nothing.

Names live in Linux's abstract socket namespace: nothing on disk to clean up after a crash, and
a name is freed when its process dies. They are scoped by the database and the queue name, so
two deployments (or test runs) on one machine never wake each other. A notification is only a
hint: sleepers still re-read the database now and then, so a lost one (another machine, another
OS: `listen` gives None there and the caller polls) costs latency, never correctness.
"""

import asyncio
import contextlib
import hashlib
import select
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from django.conf import settings

AVAILABLE = sys.platform.startswith("linux")
# Sleepers on one name, each on its own slot (two pushers of `serve --clusters 2`, two clients
# waiting on one job); a notification goes to every slot, a sleeper beyond them polls.
SLOTS = 4


@cache
def _scope() -> str:
    db = settings.DATABASES["default"]
    identity = "|".join(
        str(part)
        for part in (
            db["ENGINE"],
            db.get("HOST"),
            db.get("PORT"),
            db["NAME"],
            settings.Q_CLUSTER["name"],
        )
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:20]


def _address(channel: str, slot: int) -> bytes:
    return f"\0whisper-platform/{_scope()}/{channel}/{slot}".encode()


class Listener:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def wait(self, timeout: float) -> bool:
        """Sleep until notified or `timeout` seconds pass; True when notified."""
        readable, _, _ = select.select([self._sock], [], [], max(0.0, timeout))
        return self._drained() if readable else False

    async def wait_async(self, timeout: float) -> bool:
        """`wait` for a coroutine: the event loop watches the socket, no thread sleeps."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        loop.add_reader(self._sock, lambda: readable.done() or readable.set_result(True))
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that comes as the future completes (python/cpython#86296), and the cancelled wait
            # (a client that hung up) would go on.
            async with asyncio.timeout(max(0.0, timeout)):
                await readable
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(self._sock)
        return self._drained()

    def _drained(self) -> bool:
        try:
            while True:  # several notifications since the last wait wake it once
                self._sock.recv(16)
        except BlockingIOError:
            pass
        return True


@contextmanager
def listen(channel: str) -> Iterator[Listener | None]:
    """A Listener for `channel`, or None when wake-ups are not available here (then poll).

    Bind before checking the state waited for: a notification sent in between is kept in the
    socket and ends the next wait at once, so none is lost.
    """
    sock = _bind(channel)
    try:
        yield Listener(sock) if sock is not None else None
    finally:
        if sock is not None:
            sock.close()


def listener_open(channel: str) -> Listener | None:
    """A Listener kept for a process's lifetime (the broker's pusher)."""
    sock = _bind(channel)
    return Listener(sock) if sock is not None else None


def _bind(channel: str) -> socket.socket | None:
    if not AVAILABLE:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)
    for slot in range(SLOTS):
        try:
            sock.bind(_address(channel, slot))
        except OSError:
            continue  # taken by another sleeper
        return sock
    sock.close()
    return None


@cache
def _sender() -> socket.socket:
    # One unbound socket per process; sendto on it is thread-safe. Non-blocking: a notifier
    # must never wait on a sleeper whose buffer is full (it has wake-ups pending anyway).
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)
    return sock


def notify(channel: str) -> None:
    """Wake every process sleeping on `channel` on this machine (none: nothing happens)."""
    if not AVAILABLE:
        return
    sock = _sender()
    for slot in range(SLOTS):
        # OSError: nobody on that slot (ECONNREFUSED), or woken already (EAGAIN).
        with contextlib.suppress(OSError):
            sock.sendto(b"1", _address(channel, slot))
