"""Streamed responses (Server-Sent Events) under ASGI.

Django serves a synchronous streaming body over ASGI by reading it to the end first
(`sync_to_async(list)`, with a warning): a transcription stream would reach its client only once
the job had ended. This middleware hands the server an asynchronous body instead, which takes
each part from the synchronous one as soon as it exists, in the request's own thread (so the
generator and its database connection stay in one thread, as under WSGI).

Django does not close the response of a client that went away under ASGI (the request task is
cancelled), so the body closes it itself: that is what writes a stream's usage row and frees
its waiting slot (api.middleware, api.views.audio).
"""

from collections.abc import AsyncIterator, Callable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

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


class AsgiStreamingMiddleware:
    """Outermost: wraps the body as every other middleware left it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            # The synchronous parts are taken before the body is replaced by the asynchronous one.
            response.streaming_content = _parts(iter(response.streaming_content), response)
        return response
