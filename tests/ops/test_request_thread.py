"""A request's own thread (ops.request_thread), through asgiref's public executor context: the
request's synchronous parts run in one thread, `request_thread_release` ends that thread (its
database connections closed first), and the request's next synchronous part gets a new one.
Django's own per-request context, opened inside it, changes none of that."""

import asyncio
import threading

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connection

from ops.request_thread import request_thread_context, request_thread_release


def _thread_with_connection():
    connection.ensure_connection()
    return threading.current_thread(), connection


@pytest.mark.django_db(transaction=True)
def test_the_request_thread_is_given_back_and_a_new_one_made_after():
    async def request():
        # The inner context as Django's ASGI handler opens it: a no-op inside ours.
        async with request_thread_context(), ThreadSensitiveContext():
            first, conn = await sync_to_async(_thread_with_connection)()
            assert await sync_to_async(threading.current_thread)() is first  # one thread
            await request_thread_release()
            first.join(timeout=5)
            assert not first.is_alive()
            assert conn.connection is None  # closed in its own thread before it went
            again = await sync_to_async(threading.current_thread)()
            assert again is not first and again.is_alive()
            assert await sync_to_async(threading.current_thread)() is again
            return again

    again = asyncio.run(request())
    again.join(timeout=5)
    assert not again.is_alive()  # the request's end lets the new thread go too


def test_outside_a_request_it_does_nothing():
    asyncio.run(request_thread_release())
