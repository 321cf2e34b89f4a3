"""Streamed responses (Server-Sent Events, file downloads) under ASGI.

Django serves a synchronous streaming body over ASGI by reading it to the end first
(`sync_to_async(list)`, with a warning): a download would be held in memory whole. This
middleware hands the server an asynchronous body instead, which takes each part from the
synchronous one as soon as it exists, in the request's own thread (so the generator and its
database connection stay in one thread, as under WSGI).

The transcription streams are asynchronous bodies already (api.streaming). `ClosingStream`
wraps such a body with the `close()` Django calls once the server is done with the response,
all sent or the client gone: that is what writes a stream's usage row and frees its waiting
slot (api.middleware, api.views.audio). An async generator's own `finally` is no place for
either: abandoned between two parts, it runs only when the generator is garbage collected.
"""

from collections.abc import AsyncIterator, Callable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from .middleware import BothWaysMiddleware

_DONE = object()


def _next(iterator):
    return next(iterator, _DONE)


async def _parts(
    iterator: Iterator[bytes], response: StreamingHttpResponse
) -> AsyncIterator[bytes]:
    try:
        while True:
            part = await sync_to_async(_next, thread_sensitive=True)(iterator)
            if part is _DONE:
                return
            yield part
    finally:
        # Queued behind a next() still running in the request's thread, never beside it.
        await sync_to_async(response.close, thread_sensitive=True)()


class ClosingStream:
    """An asynchronous body whose `close()` (called by Django, in a thread, once the server is
    done with the response) runs `on_close` once, or as soon as the body has ended. Wrappers nest: each close() closes the body
    it wraps first."""

    def __init__(self, content: AsyncIterator, on_close: Callable[[], None]) -> None:
        self._content = aiter(content)
        self._inner_close = getattr(content, "close", None)
        self._on_close = on_close
        self._closed = False

    def __aiter__(self) -> "ClosingStream":
        return self

    async def __anext__(self):
        try:
            return await anext(self._content)
        except StopAsyncIteration:
            # Every part is out: closed now, in a thread (the hooks write to the database),
            # whoever calls close() afterwards (Django's test client calls it in its loop).
            await sync_to_async(self.close)()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._inner_close is not None:
                self._inner_close()
        finally:
            self._on_close()


class AsgiStreamingMiddleware(BothWaysMiddleware):
    """Outermost: wraps the body as every other middleware left it."""

    def call(self, request: HttpRequest) -> HttpResponse:
        return self._wrapped(request, self.get_response(request))

    async def acall(self, request: HttpRequest) -> HttpResponse:
        return self._wrapped(request, await self.get_response(request))

    @staticmethod
    def _wrapped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            # The synchronous parts are taken before the body is replaced by the asynchronous one.
            response.streaming_content = _parts(iter(response.streaming_content), response)
        return response
