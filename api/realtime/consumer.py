"""`GET /v1/realtime?intent=transcription`: the websocket, its key, its size limits. What the
messages mean is the session's (session.py).

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
import contextlib
import json
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.authentication import KeyRefused, api_key_check
from transcriptions.services.live_sessions import (
    LIVE_SESSION_HEARTBEAT,
    live_session_close,
    live_session_open,
    live_session_seen,
)

from .protocol import error_event
from .session import RealtimeSession, in_thread

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
        refusal = await self._admit()
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
        """Keeps the session counted (services.live_sessions) while it is open."""
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
        if session is not None:
            await session.close()
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            self.heartbeat = None
        if self.counted is not None:
            counted, self.counted = self.counted, None
            await in_thread(live_session_close)(counted)
