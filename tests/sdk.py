"""What the official openai SDK sends, without a server: its request captured by an httpx
MockTransport (sdk_request), then posted to ours through the test client (replay)."""

import httpx
from openai import OpenAI

from tests.audio import JFK


def sdk_request(model="tiny.en", file=JFK, **create) -> httpx.Request:
    """The request the unmodified openai client builds for transcriptions.create(**create),
    captured by an httpx MockTransport instead of being sent."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        return httpx.Response(200, json={"text": ""})

    client = OpenAI(
        api_key="sk-test",
        base_url="http://sdk.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    with file.open("rb") as fh:
        client.audio.transcriptions.create(file=fh, model=model, **create)
    return sent[0]


def replay(api, request: httpx.Request):
    """The SDK's body and Content-Type (with its boundary), posted to our endpoint."""
    return api.client.generic(
        "POST",
        "/v1/audio/transcriptions",
        request.content,
        content_type=request.headers["content-type"],
    )
