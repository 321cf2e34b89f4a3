"""Reading a streamed response of Django's test client."""

from asgiref.sync import async_to_sync


def streamed(response) -> bytes:
    """The whole body of a streamed response. The transcription streams are asynchronous
    bodies (api.streaming): they are read in an event loop, as the ASGI server reads them, and
    their database reads come back to this thread (the test's transaction)."""
    if not response.is_async:
        return b"".join(response.streaming_content)

    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return async_to_sync(read)()
