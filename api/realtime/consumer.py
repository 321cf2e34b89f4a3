"""`GET /v1/realtime?intent=transcription`: the websocket, its key, its size limits, and the
live session (live.session) it speaks to in OpenAI's events (RealtimeSession, protocol.py).

The key comes as OpenAI's clients send it: `Authorization: Bearer <key>` (servers, the Python
SDK), or the subprotocol `openai-insecure-api-key.<key>` beside `realtime` (browsers, which
cannot set headers). A refused key, another intent, or a tenant with every session slot taken
gets OpenAI's `error` event and the connection is closed with code 3000
(`invalid_request_error`), as OpenAI closes it; all of that is decided before the handshake
completes, so none of a refused client's frames is read. A message over
REALTIME_MAX_MESSAGE_BYTES gets an `error` event and the close (1009); uvicorn refuses one
further past it from its frame header (ops/web_worker.py).
"""

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.authentication import KeyRefused, api_key_check
from accounts.models import ApiKey
from billing.errors import BillingError
from live.events import Event, new_id
from live.pool import in_thread
from live.services.audio_buffer import BufferFull, BufferTooSmall
from live.services.session_slots import (
    LIVE_SESSION_HEARTBEAT,
    live_session_close,
    live_session_open,
    live_session_seen,
)
from live.session import LiveSession
from ops.outages import is_outage
from transcriptions.errors import TranscriptionError

from ..errors import to_api_error
from .protocol import (
    ProtocolError,
    beta_session_object,
    error_event,
    server_events,
    session_object,
    session_update,
)

KEY_SUBPROTOCOL = "openai-insecure-api-key."
# OpenAI's close code for a refused connection (its reason is the error's type).
CLOSE_REFUSED = 3000
CLOSE_TOO_BIG = 1009

MSG_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the websocket "
    "subprotocol 'openai-insecure-api-key.YOUR_KEY'."
)
MSG_INTENT = (
    "Invalid value for 'intent': '{intent}'. This server has transcription sessions only: "
    "connect with ?intent=transcription."
)
MSG_TOO_BIG = "The message is {size} bytes; at most {limit} bytes are accepted."
MSG_BAD_JSON = "The message is not valid JSON: {problem}."
MSG_NOT_EVENT = "The message is not a JSON object with a 'type'."
MSG_BINARY = "Binary messages are not supported: send JSON events as text."
MSG_TOO_MANY_SESSIONS = (
    "Too many realtime sessions of this organization are open (at most {limit} at once). "
    "Close one, or retry shortly."
)
MSG_UNKNOWN_EVENT = (
    "Invalid value for 'type': '{type}'. A transcription session takes session.update, "
    "transcription_session.update, input_audio_buffer.append, input_audio_buffer.commit and "
    "input_audio_buffer.clear."
)
MSG_BAD_AUDIO = "Invalid 'audio': expected base64-encoded audio bytes."
MSG_COMMIT_EMPTY = (
    "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
    "but buffer only has {ms:.2f}ms of audio."
)
MSG_BUFFER_FULL = (
    "The input audio buffer holds {seconds:g} seconds, as much as one turn may: commit it "
    "before appending more."
)


def _refusal_codes(refused: Exception) -> tuple[int, str]:
    error = to_api_error(refused)
    return error.status_code, error.code or ""


class RealtimeSession(LiveSession):
    """A live session in OpenAI's events: each client event (a parsed JSON object) becomes a
    call of the session, each of its events the server events that tell it (protocol.py).
    Knows no websocket: `send` takes each server event."""

    def __init__(self, *, api_key: ApiKey, send: Callable[[dict], Awaitable[None]]) -> None:
        super().__init__(api_key=api_key, emit=self._emit, refusal_codes=_refusal_codes)
        self._send = send

    async def send(self, event: dict) -> None:
        if "event_id" not in event:
            event = {"event_id": new_id("event"), **event}
        await self._send(event)

    async def _emit(self, event: Event) -> None:
        for server_event in server_events(event):
            await self.send(server_event)

    async def start(self) -> None:
        await self.send(
            {"type": "session.created", "session": session_object(self.id, self.settings)}
        )

    async def handle(self, event: dict) -> None:
        kind = event.get("type")
        handler = {
            "session.update": self._session_update,
            "transcription_session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
        }.get(kind if isinstance(kind, str) else "")
        try:
            if handler is None:
                raise ProtocolError(
                    MSG_UNKNOWN_EVENT.format(type=kind), code="invalid_value", param="type"
                )
            await handler(event)
        except ProtocolError as bad:
            await self.send(
                error_event(
                    bad.message, code=bad.code, param=bad.param, event_id=event.get("event_id")
                )
            )

    async def _session_update(self, event: dict) -> None:
        try:
            await self.configure(session_update(event, self.settings))
        except (TranscriptionError, BillingError) as refused:
            error = to_api_error(refused)
            param = "session.audio.input.transcription." + (error.param or "model")
            raise ProtocolError(
                error.message, code=error.code or "invalid_value", param=param
            ) from None
        if event.get("type") == "transcription_session.update":
            await self.send(
                {
                    "type": "transcription_session.updated",
                    "session": beta_session_object(self.id, self.settings),
                }
            )
        else:
            await self.send(
                {"type": "session.updated", "session": session_object(self.id, self.settings)}
            )

    async def _append(self, event: dict) -> None:
        audio = event.get("audio")
        try:
            data = base64.b64decode(audio, validate=True) if isinstance(audio, str) else None
        except (binascii.Error, ValueError):
            data = None
        if data is None:
            raise ProtocolError(MSG_BAD_AUDIO, param="audio")
        try:
            await self.append(data)
        except BufferFull as full:
            raise ProtocolError(
                MSG_BUFFER_FULL.format(seconds=full.max_seconds),
                code="input_audio_buffer_full",
                param="audio",
            ) from None

    async def _commit(self, event: dict) -> None:
        try:
            await self.commit()
        except BufferTooSmall as small:
            raise ProtocolError(
                MSG_COMMIT_EMPTY.format(ms=small.buffered_ms),
                code="input_audio_buffer_commit_empty",
            ) from None

    async def _clear(self, event: dict) -> None:
        await self.clear()
        await self.send({"type": "input_audio_buffer.cleared"})


def _key(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return parts[1]
    for protocol in scope.get("subprotocols", []):
        if protocol.startswith(KEY_SUBPROTOCOL):
            return protocol[len(KEY_SUBPROTOCOL) :]
    return None


class RealtimeConsumer(AsyncWebsocketConsumer):
    session: RealtimeSession | None = None
    counted: str | None = None  # the session's id while it counts against its tenant's cap
    heartbeat: asyncio.Task | None = None

    async def connect(self) -> None:
        # Everything is decided before the handshake completes: a client cannot send a frame
        # before it is accepted, so one refused (error event, then the close at once) has had
        # none of its frames read or queued while its key was being looked up.
        try:
            refusal = await self._admit()
        except Exception as exc:
            # The database or Redis out while the key is looked up or the session counted:
            # the envelope's 503 as an error event (retryable), not the server's bare 500 for
            # a handshake that raised. Nothing was counted: each step is one transaction.
            if not is_outage(exc):
                raise
            error = to_api_error(exc).as_dict()["error"]
            refusal = {"message": error["message"], "code": error["code"], "type": error["type"]}
        offered = self.scope.get("subprotocols", [])
        # A browser's handshake fails unless the server picks one of the offered protocols.
        await self.accept("realtime" if "realtime" in offered else None)
        if refusal is not None:
            return await self._refuse(**refusal)
        self.heartbeat = asyncio.create_task(self._beat(self.counted))
        await self.session.start()

    async def _admit(self) -> dict | None:
        """The session, counted against its tenant's cap; or what refuses it."""
        key = _key(self.scope)
        intent = parse_qs(self.scope.get("query_string", b"").decode()).get("intent", [""])[0]
        if key is None:
            return {"message": MSG_NO_KEY, "code": "invalid_api_key"}
        try:
            api_key = await in_thread(api_key_check)(key=key)
        except KeyRefused as refused:
            return {"message": refused.message, "code": "invalid_api_key"}
        if intent != "transcription":
            return {
                "message": MSG_INTENT.format(intent=intent),
                "code": "unsupported_value",
                "param": "intent",
            }
        session = RealtimeSession(api_key=api_key, send=self._send_event)
        limit = settings.REALTIME_SESSIONS_PER_TENANT
        opened = await in_thread(live_session_open)(
            tenant_id=api_key.tenant_id, session_id=session.id, limit=limit
        )
        if not opened:
            return {
                "message": MSG_TOO_MANY_SESSIONS.format(limit=limit),
                "code": "rate_limit_exceeded",
                "type": "requests",
            }
        self.counted = session.id
        self.session = session
        return None

    @staticmethod
    async def _beat(session_id: str) -> None:
        """Keeps the session counted (live.services.session_slots) while it is open."""
        while True:
            await asyncio.sleep(LIVE_SESSION_HEARTBEAT)
            with contextlib.suppress(Exception):  # a missed beat: the next one counts
                await in_thread(live_session_seen)(session_id)

    async def _refuse(
        self, message: str, *, code: str, type: str = "invalid_request_error", param=None
    ) -> None:
        await self._send_event(error_event(message, type=type, code=code, param=param))
        await self.close(code=CLOSE_REFUSED, reason=type)

    async def _send_event(self, event: dict) -> None:
        if self.session is None and event.get("type") != "error":
            return
        # The client may be gone already; disconnect() cleans up.
        with contextlib.suppress(Exception):
            await self.send(text_data=json.dumps(event))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.session is None:
            return
        size = len(text_data) if text_data is not None else len(bytes_data or b"")
        limit = settings.REALTIME_MAX_MESSAGE_BYTES
        if size > limit:
            await self._send_event(
                error_event(MSG_TOO_BIG.format(size=size, limit=limit), code="message_too_large")
            )
            await self.close(code=CLOSE_TOO_BIG)
            return
        if text_data is None:
            await self._send_event(error_event(MSG_BINARY, code="invalid_type"))
            return
        try:
            event = json.loads(text_data)
        except ValueError as bad:
            await self._send_event(
                error_event(MSG_BAD_JSON.format(problem=bad), code="invalid_json")
            )
            return
        if not isinstance(event, dict):
            await self._send_event(error_event(MSG_NOT_EVENT, code="invalid_type"))
            return
        await self.session.handle(event)

    async def disconnect(self, code) -> None:
        session, self.session = self.session, None
        try:
            if session is not None:
                await session.close()
        finally:
            # Whatever the close met, the session stops counting (its row would only stop
            # counting once stale, a minute on).
            if self.heartbeat is not None:
                self.heartbeat.cancel()
                self.heartbeat = None
            if self.counted is not None:
                counted, self.counted = self.counted, None
                await in_thread(live_session_close)(counted)
