"""The live transcription page: the browser's microphone streamed to `/v1/realtime` (the same
websocket any client uses), for people to try it. The page never sees a stored key (only their
hashes are kept): the member pastes one of theirs, which stays in the page's memory and goes to
the server as the browser subprotocol `openai-insecure-api-key.<key>`, as OpenAI's clients send
it from browsers."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..tenancy import TenantScope, scoped_view


@scoped_view
def live_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    models = [*settings.WHISPER_MODEL_ALIASES, *settings.WHISPER_MODELS]
    return render(
        request,
        "dashboard/live.html",
        {"scope": scope, "models": models, "default_model": "whisper-1", "nav": "live"},
    )
