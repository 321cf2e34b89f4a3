"""Wake-ups through Redis for coroutines: one subscription per event loop, shared by every
wait in it.

A wait never awaits Redis itself. It registers an asyncio.Event for its channel and sleeps on
it; the loop's hub sends SUBSCRIBE/UNSUBSCRIBE from a task of its own and sets the events of a
channel when a message comes. Written here rather than a PubSub per wait because:

- redis-py's asyncio client reads a pooled connection's pending replies under
  `asyncio.wait_for`, which on Python 3.11 swallows a cancellation that arrives as the read
  ends (python/cpython#86296, fixed in 3.12): a client that hung up kept its wait, and the
  realtime turn it was following, until the wait's own timeout, 5-10 % of the time with many
  waits at once. Cancelling a wait here only cancels `Event.wait()`.
- a PubSub per wait holds a connection of the client's pool, 100 by default: the 101st
  concurrent wait failed with MaxConnectionsError.
- with Redis unreachable a wait still works: it re-reads what it waits for every RECHECK seconds
  (the caller's loop) and the hub reconnects on its own.
"""

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

logger = logging.getLogger(__name__)

# How long the reader blocks on the connection before it looks at its work again.
READ_SECONDS = 1.0
# How long a new wait waits for its SUBSCRIBE to be acknowledged before it goes on without.
READY_SECONDS = 1.0
# After Redis refused or dropped the connection: the pause before the hub tries again.
RETRY_SECONDS = 0.5


class Hub:
    """The subscriptions of one event loop: `client` is a redis.asyncio.Redis made for it."""

    def __init__(self, client) -> None:
        self._client = client
        self._pubsub = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        # Per channel waited on: done once its SUBSCRIBE is acknowledged (a wait re-reads its
        # row only after that, so a notification sent in between is not lost).
        self._subscribed: dict[str, asyncio.Future] = {}
        # SUBSCRIBE/UNSUBSCRIBE to send, in order, by the hub's task.
        self._commands: deque[tuple[str, str]] = deque()
        self._queued = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None
        self._failing = False

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[asyncio.Event]:
        """An event set whenever `channel` gets a message, while the context lasts. On entry the
        subscription is in place, or READY_SECONDS passed (Redis unreachable or slow: the
        caller's re-reads carry the wait meanwhile)."""
        event = asyncio.Event()
        waiters = self._waiters.setdefault(channel, set())
        waiters.add(event)
        ready = self._subscribed.get(channel)
        if ready is None:
            ready = self._subscribed[channel] = asyncio.get_running_loop().create_future()
            self._queue("subscribe", channel)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            # Shielded: cancelling this wait must not cancel a subscription others share.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(READY_SECONDS):
                    await asyncio.shield(ready)
            yield event
        finally:
            waiters.discard(event)
            if not waiters and self._waiters.get(channel) is waiters:
                del self._waiters[channel]
                self._subscribed.pop(channel, None)
                self._queue("unsubscribe", channel)

    def _queue(self, command: str, channel: str) -> None:
        self._commands.append((command, channel))
        self._queued.set()

    async def _run(self) -> None:
        """Send the commands as they are queued (a reader task takes the messages), until no
        wait is left."""
        try:
            while True:
                if not self._waiters and not self._commands:
                    await self._reset()
                    if not self._waiters and not self._commands:
                        return  # nothing awaited since the check: no wait is left behind
                try:
                    await self._send_commands()
                    self._read_on()
                except Exception:
                    # Redis down, or the connection dropped: the waits re-read meanwhile.
                    # Said once per outage, not at every retry.
                    if not self._failing:
                        logger.warning("Redis subscription failed; retrying", exc_info=True)
                    self._failing = True
                    await self._reset()
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if self._failing and self._pubsub.subscribed:
                    logger.warning("Redis subscription restored")
                    self._failing = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(READ_SECONDS):
                        await self._queued.wait()
        finally:
            await self._reset()

    async def _send_commands(self) -> None:
        if self._pubsub is None:
            self._pubsub = self._client.pubsub()
        self._queued.clear()
        if self._reader is not None and self._reader.done():
            failed = not self._reader.cancelled() and self._reader.exception()
            self._reader = None
            if failed:
                raise failed
        while self._commands:
            command, channel = self._commands[0]
            if command == "subscribe":
                if channel in self._waiters:  # else its waits left before it was sent
                    await self._pubsub.subscribe(channel)  # acknowledged to the reader
            elif channel not in self._waiters:
                await self._pubsub.unsubscribe(channel)
            self._commands.popleft()  # sent: not sent again after a reconnection

    def _read_on(self) -> None:
        """A reader for the connection once it has a subscription (reading one before fails).
        Writes go on beside it: a SUBSCRIBE is not held up by a read in progress."""
        if self._reader is None and self._pubsub.subscribed:
            self._reader = asyncio.get_running_loop().create_task(self._read(self._pubsub))
            # Its fault is the writer's to see; one cancelled by _reset is nobody's.
            self._reader.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def _read(self, pubsub) -> None:
        try:
            while pubsub is self._pubsub and self._waiters:
                message = await pubsub.get_message(timeout=READ_SECONDS)
                if message is None:
                    continue
                channel = message["channel"]
                if isinstance(channel, bytes):
                    channel = channel.decode()
                if message["type"] == "message":
                    for event in self._waiters.get(channel, ()):
                        event.set()
                elif message["type"] == "subscribe":
                    ready = self._subscribed.get(channel)
                    if ready is not None and not ready.done():
                        ready.set_result(None)
        finally:
            self._queued.set()  # the writer looks at what happened

    async def _reset(self) -> None:
        """Drop the connection; every channel still waited on is subscribed again."""
        pubsub, self._pubsub = self._pubsub, None
        reader, self._reader = self._reader, None
        if reader is not None:
            # Not awaited: its read may outlast a cancellation (the reason for this module);
            # closing the connection under it ends it.
            reader.cancel()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        self._commands.clear()
        for channel in list(self._waiters):
            self._queue("subscribe", channel)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub(make_client) -> Hub:
    """The running loop's hub; `make_client()` gives it a redis.asyncio client the first time
    (redis.asyncio connections belong to the loop that opened them)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(make_client())
    return found
