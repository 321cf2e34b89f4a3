"""An HTTP request's ASGI scope, for tests that drive Django's ASGI handler themselves (a client
that hangs up, waits that must hold no thread, a peer that reads nothing)."""


def http_scope(method: str, path: str, *, key: str = "", headers=()) -> dict:
    """The scope of `method path` from a local client, with `Authorization: Bearer key` when a
    key is given, then `headers` ((name, value) pairs of str)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            *([(b"authorization", f"Bearer {key}".encode())] if key else []),
            *[(name.encode(), value.encode()) for name, value in headers],
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def multipart_headers(body: bytes) -> list[tuple[str, str]]:
    """The headers of a multipart body made by Django's test client's `encode_multipart`."""
    from django.test.client import MULTIPART_CONTENT

    return [("content-type", MULTIPART_CONTENT), ("content-length", str(len(body)))]
