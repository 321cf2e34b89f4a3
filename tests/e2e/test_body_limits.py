"""Issue 25, hole 4: a body is refused from its headers, before it is read. On the wire to the
running server: the headers go first, then the body a piece at a time while no answer has
come; what counts is how much of the body the client could hand over before the answer."""

import json
import select
import socket

import httpx
import pytest

from tests.e2e.test_hostile_tenants import wait_for

pytestmark = pytest.mark.e2e

MIB = 1 << 20
CLAIMED = 60 * MIB  # far past the default plan's 25 MB
PIECE = MIB
# Waiting this long for an answer before the first byte of the body: a refusal made from the
# headers comes well within it (an event bound, not the machine's speed); after that each
# piece waits a little for an answer that may have come meanwhile.
FIRST_WAIT = 10.0
NEXT_WAIT = 0.1
PLAN_LIMIT = 26_214_400  # the default plan's max_file_bytes
ENVELOPE_SLACK = 64 * 1024


def head(platform, *, key: str | None, length: int | None) -> bytes:
    lines = [
        "POST /v1/audio/transcriptions HTTP/1.1",
        f"Host: 127.0.0.1:{platform.port}",
        "Content-Type: multipart/form-data; boundary=xyz",
    ]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(conn: socket.socket) -> tuple[int, dict[str, str], dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    raw_head, body = data.split(b"\r\n\r\n", 1)
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    while len(body) < int(headers["content-length"]):
        chunk = conn.recv(65536)
        assert chunk, "closed in the middle of the answer"
        body += chunk
    return int(status_line.split()[1]), headers, json.loads(body)


def _closed(conn: socket.socket) -> bool:
    """Whether the server closed the connection (it reads nothing more of the body)."""
    try:
        return conn.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def send_until_answered(platform, raw_head: bytes, *, chunked: bool = False):
    """(body bytes handed over before the answer, status, headers, body, closed after)."""
    with socket.create_connection(("127.0.0.1", platform.port), timeout=60) as conn:
        conn.sendall(raw_head)
        sent = 0
        wait = FIRST_WAIT
        while sent < CLAIMED:
            if select.select([conn], [], [], wait)[0]:
                break  # the answer came
            wait = NEXT_WAIT
            piece = b"\0" * PIECE
            try:
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        if chunked and sent >= CLAIMED:
            conn.sendall(b"0\r\n\r\n")
        status, headers, body = _answer(conn)
        conn.settimeout(10)
        closed = _closed(conn)
    print(f"\n{sent / MIB:.0f} MiB of the body handed over before the answer {status}")
    return sent, status, headers, body, closed


def counted(platform, status: int) -> int:
    rows = platform.query(
        "SELECT requests FROM billing_requestcounter WHERE endpoint = %s AND status_code = %s",
        ("/v1/audio/transcriptions", status),
    )
    return rows[0][0] if rows else 0


def usage_rows(platform) -> int:
    return platform.query("SELECT COUNT(*) FROM accounts_usagerecord")[0][0]


def assert_openai_error(headers: dict, body: dict, *, code: str) -> None:
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code and body["error"]["type"] == "invalid_request_error"
    assert headers["x-request-id"].startswith("req_") and "openai-processing-ms" in headers
    assert headers["connection"] == "close"


def test_no_key_and_a_huge_length_is_refused_before_the_body(platform_server):
    before, rows = counted(platform_server, 401), usage_rows(platform_server)
    sent, status, headers, body, closed = send_until_answered(
        platform_server, head(platform_server, key=None, length=CLAIMED)
    )
    assert status == 401
    assert_openai_error(headers, body, code="invalid_api_key")
    assert body["error"]["message"].startswith("You didn't provide an API key.")
    assert sent == 0, f"{sent / MIB:.0f} MiB read before the 401"
    assert closed
    # Counted as every request without a key is (once the answer is sent), and not stored as
    # anyone's usage.
    wait_for(lambda: counted(platform_server, 401) == before + 1, timeout=30)
    assert usage_rows(platform_server) == rows
    assert httpx.get(f"{platform_server.url}/healthz", timeout=10).status_code == 200


def test_a_bad_key_is_refused_before_the_body(platform_server):
    sent, status, headers, body, closed = send_until_answered(
        platform_server, head(platform_server, key="sk-" + "x" * 52, length=CLAIMED)
    )
    assert status == 401
    assert_openai_error(headers, body, code="invalid_api_key")
    assert body["error"]["message"].startswith("Incorrect API key provided: sk-xxx")
    assert sent == 0 and closed


def test_a_length_over_the_plan_is_refused_before_the_body(platform_server):
    rows = usage_rows(platform_server)
    sent, status, headers, body, closed = send_until_answered(
        platform_server, head(platform_server, key=platform_server.key, length=CLAIMED)
    )
    assert status == 413
    assert_openai_error(headers, body, code="request_too_large")
    assert "x-ratelimit-limit-requests" in headers
    assert sent == 0, f"{sent / MIB:.0f} MiB read before the 413"
    assert closed
    # The tenant's request keeps its row (written once the answer is sent), with the length it
    # claimed.
    wait_for(lambda: usage_rows(platform_server) == rows + 1, timeout=30)
    assert platform_server.query(
        "SELECT status_code, error_code, request_bytes FROM accounts_usagerecord "
        "ORDER BY id DESC LIMIT 1"
    ) == [(413, "request_too_large", CLAIMED)]


def test_a_chunked_body_is_cut_at_the_plan_s_limit(platform_server):
    sent, status, headers, body, closed = send_until_answered(
        platform_server, head(platform_server, key=platform_server.key, length=None), chunked=True
    )
    assert status == 413
    assert_openai_error(headers, body, code="request_too_large")
    # Read up to the limit, then cut: what the client handed over past it sat in the sockets'
    # buffers, never in the server.
    assert PLAN_LIMIT < sent < PLAN_LIMIT + ENVELOPE_SLACK + 16 * MIB < CLAIMED
    assert closed
    assert httpx.get(f"{platform_server.url}/healthz", timeout=10).status_code == 200
