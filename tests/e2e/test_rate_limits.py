"""Rate limits against the live server with the official `openai` client: the headers count
down, a 429 carries Retry-After, and the client waits that long and gets through."""

import time

import openai
import pytest
from openai import OpenAI

from tests.audio import JFK
from tests.e2e.accounting import tenant_with_limits, usage_rows

pytestmark = pytest.mark.e2e


# About 20 s: the client waits the Retry-After it was given (the subject).
def test_headers_count_down_then_the_client_honours_retry_after(platform_server):
    # 20 requests per minute: a burst of 20, then one more every 3 seconds.
    key = tenant_with_limits(platform_server, "rpm", requests_per_minute=20).key
    client = OpenAI(base_url=platform_server.api_base, api_key=key, max_retries=0)
    remaining = []
    for _ in range(20):
        raw = client.models.with_raw_response.list()
        assert raw.headers["x-ratelimit-limit-requests"] == "20"
        remaining.append(int(raw.headers["x-ratelimit-remaining-requests"]))
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    assert remaining == list(range(19, -1, -1))

    with pytest.raises(openai.RateLimitError) as info:
        client.models.list()
    assert info.value.status_code == 429
    assert info.value.code == "rate_limit_exceeded" and info.value.type == "requests"
    retry_after = int(info.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 3
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"

    # One retry allowed: the SDK's own backoff (0.5 s) would meet another 429 and give up;
    # waiting the Retry-After it was told gets it through.
    patient = OpenAI(base_url=platform_server.api_base, api_key=key, max_retries=1)
    started = time.monotonic()
    models = patient.models.list()
    waited = time.monotonic() - started
    assert [m.id for m in models][:1] == ["whisper-1"]
    assert waited >= 1.0, waited
    statuses = [row[1] for row in usage_rows(platform_server, key, count=23)]
    assert statuses == [200] * 20 + [429, 429, 200]


def test_audio_responses_carry_the_headers_too(platform_server):
    key = tenant_with_limits(platform_server, "audio-rpm", requests_per_minute=30).key
    client = OpenAI(base_url=platform_server.api_base, api_key=key, max_retries=0)
    with JFK.open("rb") as f:
        raw = client.audio.transcriptions.with_raw_response.create(model="tiny.en", file=f)
    assert raw.headers["x-ratelimit-limit-requests"] == "30"
    assert raw.headers["x-ratelimit-remaining-requests"] == "29"
    assert raw.headers["x-ratelimit-reset-requests"] == "2s"
    assert raw.parse().usage.seconds == 11


def test_a_refused_upload_gets_its_429_not_a_broken_connection(platform_server):
    # The limit refuses the request before its body is read; the SDK sends the whole body
    # before it reads the answer, and must still get the answer.
    key = tenant_with_limits(platform_server, "upload-rpm", requests_per_minute=1).key
    client = OpenAI(base_url=platform_server.api_base, api_key=key, max_retries=0)
    client.models.list()
    big = JFK.read_bytes() * 22  # 25 MB, just under the upload limit
    with pytest.raises(openai.RateLimitError) as info:
        client.audio.transcriptions.create(model="tiny.en", file=("big.flac", big, "audio/flac"))
    assert info.value.code == "rate_limit_exceeded"
    assert int(info.value.response.headers["retry-after"]) > 1
