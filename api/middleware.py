"""The /v1 API's request middleware: the request id and OpenAI's timing header
(ApiRequestMiddleware), and the request log of the usage log, with the rate-limit headers on
every keyed response (UsageLogMiddleware).

A request that creates a job (a transcription, a job, an Idempotency-Key retry) has its usage
row written by the service that creates the job, in the job's transaction, and settled by the
job's final transition (billing.services.usage); this only gives that row the response's
status, size and time, whenever the response ends (sent, streamed, or left by its client).
Every other request of a tenant (a refusal, a read) gets its row here, billed nothing.

A request that names no tenant (no key, an unknown key, an unknown URL answered 404 before
authentication) is only counted for /metrics, by endpoint and status: anyone on the internet
can send those, and a row each would let them fill the database for free. A key that was
found but refused (revoked, expired) still names its tenant and keeps its row: whoever sends
it holds the secret, as with a valid key, and the tenant sees its old key still in use; the
authentication leaves it on the request as `request.usage_api_key`.

The row is written here, after the response exists, rather than in the views: so that a
request refused before any view code runs its course (401, 413, a parse error, a 429) gets its
row too. A streamed response's row is written when the stream is closed.
"""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone

from accounts.models import ApiKey
from billing.services import (
    UsageOrigin,
    request_counter_add,
    usage_record_log,
    usage_record_update,
)
from ops.middleware import CLIENT_CLOSED_REQUEST, BothWaysMiddleware
from ops.streams import ClosingStream
from ops.threads import in_request_pool, start_in_request_pool

from .errors import ApiError, error_response
from .throttling import rate_limit_headers

logger = logging.getLogger(__name__)

API_PREFIX = "/v1/"
# The endpoint of every /v1 path that matches no route: one label, however many paths are tried.
UNKNOWN_ENDPOINT = "/v1/(unknown)"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


class ApiRequestMiddleware(BothWaysMiddleware):
    """Tags every API request with an id and answers with `x-request-id` and
    `openai-processing-ms`, as OpenAI does (clients log both when they report a problem)."""

    def call(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        self._tag(request)
        return self._stamped(request, self.get_response(request))

    async def acall(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return await self.get_response(request)
        self._tag(request)
        return self._stamped(request, await self.get_response(request))

    @staticmethod
    def _tag(request: HttpRequest) -> None:
        request.request_id = f"req_{uuid.uuid4().hex}"
        request.started_at = time.perf_counter()

    @staticmethod
    def _stamped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response["x-request-id"] = request.request_id
        # A streamed body is still being produced: its header tells the time to first byte.
        response["openai-processing-ms"] = str(_processing_ms(request))
        return response


class _LoggedStream:
    """Wraps a streaming body: Django calls close() when the server is done with the
    response (all sent, or the client went away), and that writes the row."""

    def __init__(self, content: Iterator[bytes], on_close: Callable[[], None]) -> None:
        self._content = iter(content)
        self._on_close = on_close
        self._closed = False

    def __iter__(self) -> "_LoggedStream":
        return self

    def __next__(self) -> bytes:
        return next(self._content)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close()


def _error_code(response: HttpResponse) -> str:
    if response.status_code < 400 or response.streaming:
        return ""
    data = getattr(response, "data", None)
    if data is None:
        try:
            data = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return ""
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code or f"http_{response.status_code}")


def _endpoint(request: HttpRequest) -> str:
    """The route (`/v1/audio/jobs/<str:job_id>`), so that usage groups by endpoint, not by id;
    a path of no route is UNKNOWN_ENDPOINT, never the path itself (a metric label each)."""
    match = getattr(request, "resolver_match", None)
    if match is None:  # answered before URL resolution (a middleware refused it)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNKNOWN_ENDPOINT
    return f"/{match.route}" if match.route else UNKNOWN_ENDPOINT


def _model(request: HttpRequest) -> str:
    # Only what DRF already parsed: reading the body here could fail or block.
    form = request.__dict__.get("_post")
    if form is not None and form.get("model"):
        return str(form.get("model"))
    match = getattr(request, "resolver_match", None)
    return str(match.kwargs.get("model_id", "")) if match is not None else ""


def _request_bytes(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def usage_log_write(request: HttpRequest, response: HttpResponse, created_at) -> None:
    """Write the request's row; never let a logging failure change the response."""
    try:
        _write(request, response, created_at)
    except Exception:
        logger.exception("usage record of %s not written", getattr(request, "request_id", "?"))


def _processing_ms(request: HttpRequest) -> int:
    started = getattr(request, "started_at", None)
    return round((time.perf_counter() - started) * 1000) if started else 0


def usage_origin(request: HttpRequest, *, status_code: int) -> UsageOrigin:
    """What the usage row of a request that creates a job says of the request (its service
    writes the row; `status_code`: its answer when all goes well)."""
    return UsageOrigin(
        request_id=request.request_id,
        method=request.method or "",
        endpoint=_endpoint(request),
        status_code=status_code,
        request_bytes=_request_bytes(request),
        idempotency_key=request.headers.get("Idempotency-Key", ""),
    )


def _write(request: HttpRequest, response: HttpResponse, created_at) -> None:
    answer = {
        "request_id": request.request_id,
        "status_code": response.status_code,
        # A stream (status 200) that ended in an error event: its job's settle writes it.
        "error_code": _error_code(response),
        "request_bytes": _request_bytes(request),
        "processing_ms": _processing_ms(request),
    }
    api_key = getattr(request, "auth", None)
    if not isinstance(api_key, ApiKey):
        api_key = getattr(request, "usage_api_key", None)
    if api_key is None:
        # Nobody's request (module docstring): counted, not stored. Unless a service wrote its
        # row already: a client that left before the view had the key in hand.
        if not usage_record_update(**answer):
            request_counter_add(
                endpoint=_endpoint(request),
                status_code=response.status_code,
                processing_ms=answer["processing_ms"],
            )
        return
    usage_record_log(
        **answer,
        method=request.method or "",
        endpoint=_endpoint(request),
        tenant=api_key.tenant,
        api_key=api_key,
        model=_model(request),
        idempotency_key=request.headers.get("Idempotency-Key", ""),
        created_at=created_at,
    )


def _client_closed() -> HttpResponse:
    """What the row records of a request whose client went away before its answer existed:
    a job it created goes on, and its row is settled when it ends. A client that left before
    its job existed gets this row first, and its job is not created (RequestClosed)."""
    return error_response(
        ApiError(
            "The client closed the connection before the answer was ready.",
            status_code=CLIENT_CLOSED_REQUEST,
            code="client_closed_request",
        )
    )


class UsageLogMiddleware(BothWaysMiddleware):
    def call(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        created_at = timezone.now()
        return self._logged(request, self.get_response(request), created_at)

    async def acall(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return await self.get_response(request)
        created_at = timezone.now()
        # The row is written in a shared pool (ops.threads), whose connections stay open, rather
        # than in the request's own thread: a synchronous transcription gave that thread up
        # while it waited, and a new one (with a new connection) would cost its client time.
        try:
            response = await self.get_response(request)
        except asyncio.CancelledError:
            await in_request_pool(usage_log_write)(request, _client_closed(), created_at)
            raise
        self._rate_limit_headers(request, response)
        if response.streaming:
            return self._logged_when_closed(request, response, created_at)
        # Written while the answer is sent, not before it: the client does not wait for the
        # row's INSERT (SQLite's write lock, plus the hop to the pool and back). Not after it
        # either: a client that stops reading would hold the send, and its row, for as long as
        # it keeps the connection. The response's closer, which Django's ASGI handler runs once
        # the answer is sent (or the client left), waits for the row: the request is not over,
        # nor is a server that stops gracefully, until it is written.
        written = start_in_request_pool(usage_log_write, request, response, created_at)
        response._resource_closers.append(written.result)
        return response

    @staticmethod
    def _rate_limit_headers(request: HttpRequest, response: HttpResponse) -> None:
        state = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in rate_limit_headers(state).items():
                response[name] = value

    @classmethod
    def _logged(cls, request: HttpRequest, response: HttpResponse, created_at) -> HttpResponse:
        cls._rate_limit_headers(request, response)
        if response.streaming:
            return cls._logged_when_closed(request, response, created_at)
        usage_log_write(request, response, created_at)
        return response

    @staticmethod
    def _logged_when_closed(request: HttpRequest, response: HttpResponse, created_at):
        """A streamed response's row, written when its stream is closed (finished or left)."""

        def write() -> None:
            usage_log_write(request, response, created_at)

        if response.is_async:
            response.streaming_content = ClosingStream(response.streaming_content, write)
        else:
            response.streaming_content = _LoggedStream(response.streaming_content, write)
        return response
