"""A loopback HTTP receiver for callback tests: counts connections, keeps what it received, and
answers as the test tells it (politely, slowly, hugely, or not at all)."""

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]
    # Seconds from the request's end until the answer was cut off or sent whole.
    held: float = 0.0
    sent: int = 0  # bytes of the answer that went out
    cut: bool = False  # the client closed the connection before the answer was sent whole


@dataclass
class Conversation:
    """What one answer function gets: the socket, and a place to count what it sent."""

    conn: socket.socket
    record: Received = field(repr=False)

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)
        self.record.sent += len(data)


class Receiver:
    def __init__(self, answer: Callable[[Conversation], None]) -> None:
        self.answer = answer
        self.connections = 0
        self.received: list[Received] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._running = True
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._serve, daemon=True)
        self._accepting.start()

    def _serve(self) -> None:
        while self._running:
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._talk, args=(conn, peer), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _talk(self, conn: socket.socket, peer) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")[1:]
                headers = {k.strip(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
                length = int(headers.get("Content-Length", "0"))
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                record = Received(headers=headers, body=body, peer=peer)
                self.received.append(record)
                started = time.monotonic()
                try:
                    self.answer(Conversation(conn, record))
                except OSError:
                    record.cut = True
                record.held = time.monotonic() - started

    def settle(self, timeout: float = 15) -> None:
        """Wait until every answer has been sent whole or cut off."""
        for thread in list(self._threads):
            thread.join(timeout=timeout)

    def close(self) -> None:
        self._running = False
        self._accepting.join()
        self.sock.close()
        for thread in self._threads:
            thread.join(timeout=15)


def answer_ok(talk: Conversation) -> None:
    talk.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def answer_status(status: int) -> Callable[[Conversation], None]:
    def answer(talk: Conversation) -> None:
        talk.send(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())

    return answer


def answer_drip(interval: float = 1.0, total: int = 1000) -> Callable[[Conversation], None]:
    """A 200 whose body comes one byte every `interval` seconds: each read is quick, so only a
    total deadline ends it."""

    def answer(talk: Conversation) -> None:
        talk.send(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
        for _ in range(total):
            time.sleep(interval)
            talk.send(b"x")

    return answer


def answer_huge(total: int = 100 * 1024 * 1024) -> Callable[[Conversation], None]:
    def answer(talk: Conversation) -> None:
        talk.send(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
        chunk = b"x" * 65536
        for _ in range(total // len(chunk)):
            talk.send(chunk)

    return answer


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
