"""An API request's body refused from its headers, before it is read.

A pure ASGI middleware around Django's application (config/asgi.py), not a Django middleware:
Django's ASGI handler reads the whole body into a spooled file before it builds the request and
runs any middleware, so a client without a key could make the server take 60 MiB before its
401, and a keyed one any size before its 413. Here, before any of the body is read:

- no usable key, or a Content-Length over the key's plan (its largest file plus the multipart
  envelope): Django gets the request with its body withheld, and answers as it always does from
  the headers alone (401 from the key check, 413 from the parser's look at the declared length;
  the same envelope, headers, usage row or flood counter). The body is never read: the answer
  closes the connection;
- a chunked body of a usable key is counted as it comes and cut once past the limit: Django is
  then told the length it reached, and the parser answers 413.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from accounts.authentication import api_key_usable
from ops.outages import is_outage
from ops.threads import in_request_pool

from .errors import service_unavailable
from .middleware import API_PREFIX
from .parsers import ENVELOPE_SLACK, tenant_upload_limit

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[dict, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)


def _header(scope: dict, name: bytes) -> str:
    # Repeated headers joined with commas, as Django joins them into request.META.
    return ",".join(value.decode("latin-1") for key, value in scope["headers"] if key == name)


def body_limit(authorization: str) -> int | None:
    """The most bytes a body may have under this Authorization header; None when it names no
    usable key (the request is refused whatever its body)."""
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    api_key = api_key_usable(key=parts[1])
    if api_key is None:
        return None
    return tenant_upload_limit(api_key.tenant) + ENVELOPE_SLACK


async def _never() -> Message:
    # The socket is not read again: Django's wait for a disconnect ends with its answer.
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable")


class _Withheld:
    """A receive that says the body is empty, and reads nothing."""

    def __init__(self) -> None:
        self.given = False

    async def __call__(self) -> Message:
        if self.given:
            return await _never()
        self.given = True
        return {"type": "http.request", "body": b"", "more_body": False}


class _Counted:
    """A chunked body passed on as it comes, cut once past `limit` bytes."""

    def __init__(self, scope: dict, receive: Receive, limit: int) -> None:
        self.scope = dict(scope)
        self._receive = receive
        self.limit = limit
        self.received = 0
        self.cut = False

    async def receive(self) -> Message:
        if self.cut:
            return await _never()
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        if self.received <= self.limit:
            return message
        self.cut = True
        # Django builds the request from the scope once it has read the body: the length
        # reached is what the parser then refuses (413). Were that order ever to change, the
        # body would still be cut here, only the answer would differ.
        self.scope["headers"] = [
            (key, value)
            for key, value in self.scope["headers"]
            if key not in (b"content-length", b"transfer-encoding")
        ] + [(b"content-length", str(self.received).encode())]
        return {**message, "more_body": False}


def _closing(send: Send, when: Callable[[], bool] = lambda: True) -> Send:
    """`send`, with `Connection: close` on the answer (when `when()` says so then): the server
    closes the connection instead of reading the unread body to reach a next request."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and when():
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return wrapped


async def _unavailable(send: Send) -> None:
    """The API's 503 for an outage (api.errors.service_unavailable), body unread."""
    error = service_unavailable()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(error.as_dict()).encode()})


class BodyGuard:
    """Wraps the HTTP application; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            return await self.app(scope, receive, send)
        chunked = "chunked" in _header(scope, b"transfer-encoding").lower()
        try:
            length = int(_header(scope, b"content-length") or 0)
        except ValueError:  # the HTTP parser refuses these before they get here
            length = 0
        if not chunked and length <= 0:
            return await self.app(scope, receive, send)
        try:
            limit = await in_request_pool(body_limit)(_header(scope, b"authorization"))
        except Exception as exc:
            if not is_outage(exc):
                raise
            # Outside Django, whose handlers answer an outage with the 503 envelope: an error
            # raised here would reach the server, whose answer is a bare text 500.
            logger.warning("Backend unavailable in the body guard: %s", exc)
            return await _unavailable(send)
        if limit is None or length > limit:
            return await self.app(scope, _Withheld(), _closing(send))
        if chunked:
            counted = _Counted(scope, receive, limit)
            return await self.app(
                counted.scope, counted.receive, _closing(send, lambda: counted.cut)
            )
        return await self.app(scope, receive, send)
