"""Views that wait without a thread for what is not their own work.

A DRF view runs in a thread of the request (Django's ASGI handler). When it must wait for
something slow that others do (the first request with its Idempotency-Key storing its job, a
tenant's name server), it returns `Suspended` instead of blocking: the asynchronous view lets
the request's thread go, awaits the wait in the event loop, and runs the rest of the view in a
thread again, its errors and its response handled as DRF's dispatch handles them.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from rest_framework.views import APIView

from ops.request_thread import request_thread_release


class Suspended(HttpResponse):
    """What a view returns to wait: `wait()` is awaited in the event loop, then
    `resume(outcome)` runs in a thread, where `outcome()` gives what the wait returned (or
    raises what it raised). `abandon` is called if the client goes away meanwhile."""

    def __init__(
        self,
        view: APIView,
        *,
        wait: Callable[[], Awaitable[Any]],
        resume: Callable[[Callable[[], Any]], HttpResponse],
        abandon: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.view = view
        self.wait = wait
        self.resume = resume
        self.abandon = abandon

    async def waited(self) -> HttpResponse:
        await request_thread_release()
        try:
            outcome = _giver(await self.wait())
        except Exception as exc:  # raised again where the view's errors are handled
            outcome = _raiser(exc)
        except BaseException:  # the request was cancelled: its client went away
            if self.abandon is not None:
                self.abandon()
            raise
        return await sync_to_async(self._resumed)(outcome)

    def _resumed(self, outcome: Callable[[], Any]) -> HttpResponse:
        view = self.view
        try:
            response = self.resume(outcome)
        except Exception as exc:
            response = view.handle_exception(exc)
        if isinstance(response, Suspended):
            return response
        return view.finalize_response(view.request, response)


def _giver(value: Any) -> Callable[[], Any]:
    return lambda: value


def _raiser(exc: Exception) -> Callable[[], Any]:
    def outcome() -> Any:
        raise exc

    return outcome


class SuspendingApi(APIView):
    """An APIView whose handlers may return Suspended (and the view answers once the waits are
    over); `completed` may finish the response in the event loop too."""

    @classmethod
    def as_view(cls, **initkwargs):
        answer = super().as_view(**initkwargs)
        answer_in_thread = sync_to_async(answer)

        async def view(request, *args, **kwargs):
            response = await answer_in_thread(request, *args, **kwargs)
            while isinstance(response, Suspended):
                response = await response.waited()
            return await cls.completed(response)

        # DRF's and Django's marks (cls, csrf_exempt, the non-atomic requests), which
        # drf-spectacular and the request handler read from the URL's callback.
        view.__dict__.update({k: v for k, v in answer.__dict__.items() if k != "__wrapped__"})
        view.__doc__ = answer.__doc__
        return view

    @classmethod
    async def completed(cls, response: HttpResponse) -> HttpResponse:
        return response
