"""Django's session, sign-in and messages middleware are passed by for /v1 (an API request has
no session or cookie) and still run for the site; CommonMiddleware runs its hooks in the event
loop. Through Django's ASGI handler, as the web process runs them."""

import asyncio

import pytest
from asgiref.sync import SyncToAsync
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.common import CommonMiddleware
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)


def bearer(api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.key}"}


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """The paths of the requests Django's SessionMiddleware saw."""
    seen: list[str] = []
    original = SessionMiddleware.process_request

    def process_request(self, request):
        seen.append(request.path)
        return original(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", process_request)
    return seen


def test_the_api_passes_by_the_sites_middleware(calls, api_a):
    response = asyncio.run(AsyncClient().get("/v1/models", headers=bearer(api_a)))
    assert response.status_code == 200, response.content
    assert "sessionid" not in response.cookies and "Vary" not in response
    assert calls == []
    # The site still has its sessions (the sign-in page sets the CSRF cookie with them).
    page = asyncio.run(AsyncClient().get("/accounts/login/"))
    assert page.status_code == 200
    assert calls == ["/accounts/login/"]


def test_common_middleware_runs_in_the_event_loop(monkeypatch, api_a):
    hops: list[str] = []
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    response = asyncio.run(AsyncClient().get("/v1/models", headers=bearer(api_a)))
    assert response.status_code == 200
    assert not [h for h in hops if h.startswith(CommonMiddleware.__name__)], hops
    assert not [h for h in hops if h.startswith(SessionMiddleware.__name__)], hops
