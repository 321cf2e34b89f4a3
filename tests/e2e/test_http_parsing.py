"""Requests no HTTP client would send, on the wire to the running server (httptools parses
them, ops/web_worker.py): each is refused with a 400 and the server goes on serving; none
reaches the application, so none is logged as anyone's usage."""

import socket

import httpx
import pytest

pytestmark = pytest.mark.e2e


def exchange(platform, raw: bytes) -> bytes:
    """Send `raw` on a new connection; what the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


ATTACKS = {
    "garbage request line": b"\x16\x03\x01 hello there\r\n\r\n",
    # Request smuggling: two lengths, or a length beside chunked, let a proxy and the server
    # disagree on where the next request starts.
    "two different Content-Lengths": (
        b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 5\r\nContent-Length: 40\r\n\r\nhello"
    ),
    "Content-Length beside chunked": (
        b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    "a header without a name": b"GET /healthz HTTP/1.1\r\nHost: x\r\n: nameless\r\n\r\n",
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_a_malformed_request_is_refused_and_the_server_goes_on(platform_server, attack):
    before = platform_server.query("SELECT COUNT(*) FROM accounts_usagerecord")
    answer = exchange(platform_server, ATTACKS[attack])
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"HTTP/1.1 200" not in answer and b"401" not in answer.split(b"\r\n", 1)[0]
    assert httpx.get(f"{platform_server.url}/healthz", timeout=10).status_code == 200
    assert platform_server.query("SELECT COUNT(*) FROM accounts_usagerecord") == before
