"""The official `openai` package, unmodified, against a running server with real workers."""

import openai
import pytest
from openai import OpenAI

from tests.audio import HOTWORDS, JFK, JFK_TEXT, german_wav, words

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(platform_server) -> OpenAI:
    return OpenAI(base_url=platform_server.api_base, api_key=platform_server.key, max_retries=0)


def assert_jfk(text: str) -> None:
    assert words(text) == words(JFK_TEXT)


@pytest.mark.parametrize("model", ["whisper-1", "tiny.en"])
def test_json(client, model):
    with JFK.open("rb") as f:
        result = client.audio.transcriptions.create(model=model, file=f)
    assert_jfk(result.text)
    assert result.usage.type == "duration" and result.usage.seconds == 11


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_plain_formats_come_back_as_strings(client, fmt):
    with JFK.open("rb") as f:
        body = client.audio.transcriptions.create(model="tiny.en", file=f, response_format=fmt)
    assert isinstance(body, str)
    if fmt == "vtt":
        assert body.startswith("WEBVTT")
    if fmt == "srt":
        assert body.startswith("1\n00:00:00,000 --> ")
    assert {"americans", "country"} <= set(words(body))


def test_verbose_json_with_word_and_segment_timestamps(client):
    with JFK.open("rb") as f:
        result = client.audio.transcriptions.create(
            model="tiny.en",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert result.language == "english"
    assert result.duration == pytest.approx(11.0, abs=0.05)
    assert result.segments and result.words
    assert result.segments[0].avg_logprob < 0
    assert result.words[0].word == "And"
    assert all(w.end <= result.duration for w in result.words)
    assert_jfk(result.text)


def test_prompt_and_language_pass_through(client):
    with HOTWORDS.open("rb") as f:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=f, prompt="ComfyUI", language="en"
        )
    assert "ComfyUI" in result.text


def test_translation(client):
    result = client.audio.translations.create(
        model="whisper-1", file=("german.wav", german_wav(), "audio/wav")
    )
    text = set(words(result.text))
    assert "software" in text and "the" in text
    assert not {"und", "die", "der"} & text


def test_streaming_yields_deltas_then_done(client):
    with JFK.open("rb") as f:
        stream = client.audio.transcriptions.create(model="tiny.en", file=f, stream=True)
        events = list(stream)
    types = [e.type for e in events]
    assert types[-1] == "transcript.text.done" and types.count("transcript.text.done") == 1
    assert set(types[:-1]) == {"transcript.text.delta"}
    assert_jfk("".join(e.delta for e in events[:-1]))
    assert_jfk(events[-1].text)


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["whisper-1", "tiny.en", "base"]
    assert client.models.retrieve("tiny.en").id == "tiny.en"


def test_wrong_key_raises_authentication_error(platform_server):
    bad = OpenAI(base_url=platform_server.api_base, api_key="sk-" + "x" * 52, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info, JFK.open("rb") as f:
        bad.audio.transcriptions.create(model="whisper-1", file=f)
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert info.value.body["message"] == (
        "Incorrect API key provided: sk-xxx********xxxx. You can find your API key in the dashboard."
    )


def test_unknown_model_raises_not_found(client):
    with pytest.raises(openai.NotFoundError) as info, JFK.open("rb") as f:
        client.audio.transcriptions.create(model="whisper-9", file=f)
    assert info.value.code == "model_not_found"
    assert info.value.body["message"] == (
        "The model `whisper-9` does not exist or you do not have access to it."
    )


def test_bad_request_errors_carry_our_messages(client):
    with pytest.raises(openai.BadRequestError) as info, JFK.open("rb") as f:
        client.audio.transcriptions.create(model="tiny.en", file=f, temperature=3)
    assert info.value.code == "decimal_above_max_value"
    assert info.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.transcriptions.create(
            model="tiny.en", file=("noise.mp3", b"\x00\x13garbage" * 500, "audio/mpeg")
        )
    assert info.value.code == "invalid_value"
    assert info.value.body["message"] == "Audio file might be corrupted or unsupported."
    with pytest.raises(openai.BadRequestError) as info, JFK.open("rb") as f:
        client.audio.translations.create(model="tiny.en", file=f)
    assert info.value.code == "unsupported_model"


def test_oversized_upload_gets_413(client):
    big = b"\x00" * (26_214_400 + 1)
    with pytest.raises(openai.APIStatusError) as info:
        client.audio.transcriptions.create(model="tiny.en", file=("big.wav", big, "audio/wav"))
    assert info.value.status_code == 413
    assert info.value.code == "request_too_large"
