"""The websocket's door (api/realtime/consumer.py), driven as the ASGI server drives it
(asgiref's ApplicationCommunicator: Channels' own WebsocketCommunicator needs daphne): a
connection is refused before its handshake completes (no frame of a client without a good key
is ever read), and a message over the limit gets an `error` event and the close."""

import asyncio
import json
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import OperationalError

from accounts.authentication import api_key_check
from api.realtime.consumer import RealtimeConsumer
from live.models import LiveSession
from tests.conftest import keyed_client

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/v1/realtime?intent=transcription"


class Client(ApplicationCommunicator):
    def __init__(self, key: str | None) -> None:
        headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
        path, _, query = PATH.partition("?")
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": query.encode(),
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(RealtimeConsumer.as_asgi(), scope)

    async def connect(self) -> bool:
        await self.send_input({"type": "websocket.connect"})
        return (await self.receive_output(10))["type"] == "websocket.accept"

    async def event(self) -> dict:
        message = await self.receive_output(5)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])


@pytest.mark.parametrize("key", [None, "sk-not-a-real-key-000000000000"])
def test_a_refused_key_is_decided_before_the_handshake_completes(monkeypatch, key):
    """While the key is looked up (held here), the client has no accepted socket to send
    frames on; then it gets the error event and the close at once."""
    looking, go_on = threading.Event(), threading.Event()

    def held_check(*, key: str):
        looking.set()
        go_on.wait(10)
        return api_key_check(key=key)

    monkeypatch.setattr("api.realtime.consumer.api_key_check", held_check)

    async def run() -> tuple[bool, dict, dict]:
        client = Client(key)
        connecting = asyncio.ensure_future(client.connect())
        if key is not None:
            while not looking.is_set():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert not connecting.done(), "accepted before its key was checked"
        go_on.set()
        accepted = await connecting
        event = await client.event()
        closed = await client.receive_output(timeout=5)
        return accepted, event, closed

    accepted, event, closed = asyncio.run(run())
    assert accepted  # OpenAI's way: the socket opens, says why, and closes
    assert event["type"] == "error" and event["error"]["code"] == "invalid_api_key"
    assert event["error"]["type"] == "invalid_request_error"
    assert closed == {"type": "websocket.close", "code": 3000, "reason": "invalid_request_error"}


def test_a_message_over_the_limit_gets_an_error_event_and_the_close(tenant_a, settings):
    settings.REALTIME_MAX_MESSAGE_BYTES = 1_000
    api = keyed_client(tenant_a)

    async def run() -> tuple[dict, dict, dict]:
        client = Client(api.key)
        accepted = await client.connect()
        assert accepted
        created = await client.event()
        append = {"type": "input_audio_buffer.append", "audio": "A" * 1_000}
        await client.send_input({"type": "websocket.receive", "text": json.dumps(append)})
        error = await client.event()
        closed = await client.receive_output(timeout=5)
        await client.send_input({"type": "websocket.disconnect", "code": 1009})
        await client.wait(5)
        return created, error, closed

    created, error, closed = asyncio.run(run())
    assert created["type"] == "session.created"
    assert error["type"] == "error" and error["error"]["code"] == "message_too_large"
    assert "at most 1000 bytes" in error["error"]["message"]
    assert closed["type"] == "websocket.close" and closed["code"] == 1009


@pytest.mark.parametrize("where", ["the key's lookup", "the session's count"])
def test_the_database_out_at_the_handshake_is_a_retryable_error_event(tenant_a, monkeypatch, where):
    """A read-only or restarting database while the session is admitted: the envelope's
    `service_unavailable` as an error event and the close (a client retries it), not the
    server's bare 500 for a handshake that raised; and no session is left counted."""

    def out(**kwargs):
        raise OperationalError("cannot execute INSERT in a read-only transaction")

    target = "api_key_check" if where == "the key's lookup" else "live_session_open"
    monkeypatch.setattr(f"api.realtime.consumer.{target}", out)
    api = keyed_client(tenant_a)

    async def run() -> tuple[bool, dict, dict]:
        client = Client(api.key)
        accepted = await client.connect()
        event = await client.event()
        closed = await client.receive_output(timeout=5)
        return accepted, event, closed

    accepted, event, closed = asyncio.run(run())
    assert accepted
    assert event["type"] == "error" and event["error"]["code"] == "service_unavailable"
    assert event["error"]["type"] == "server_error"
    assert closed["type"] == "websocket.close" and closed["code"] == 3000
    assert not LiveSession.objects.exists()
