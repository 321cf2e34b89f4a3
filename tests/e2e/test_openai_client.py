"""The official `openai` package, unmodified, against a running server with real workers."""

import openai
import pytest
from openai import OpenAI

from tests.audio import HOTWORDS, JFK, JFK_TEXT, german_sentence_wav, german_wav, words

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


# Over 20 s on a loaded machine (about 15 s of CPU): 29 s of German translated on whisper-1,
# two stretches decoded again for coverage, one sampled by the fallback ladder.
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
    assert ids == [
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-4o-transcribe-diarize",
        "tiny.en",
        "base",
    ]
    assert client.models.retrieve("tiny.en").id == "tiny.en"


# --- OpenAI's newer fields and its gpt-4o model ids ------------------------------------------------


def token_bytes(logprob) -> bytes:
    # The SDK types a json body's `bytes` as floats (List[float]), a stream event's as ints.
    return bytes(int(b) for b in logprob.bytes)


def spelled_by(logprobs) -> str:
    """The text the tokens put together (their bytes), each with a log probability <= 0."""
    assert logprobs
    assert all(isinstance(lp.logprob, float) and lp.logprob <= 0 for lp in logprobs)
    assert all(token_bytes(lp).decode("utf-8", errors="replace") == lp.token for lp in logprobs)
    return b"".join(token_bytes(lp) for lp in logprobs).decode().strip()


def test_gpt_4o_transcribe_json_with_logprobs(client):
    with JFK.open("rb") as f:
        result = client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=f, include=["logprobs"]
        )
    assert_jfk(result.text)
    assert spelled_by(result.logprobs) == result.text
    assert "".join(lp.token for lp in result.logprobs).strip() == result.text
    assert len(result.logprobs) > len(words(result.text))  # per token: "," and "." too
    # As OpenAI reports gpt-4o-transcribe: tokens (and the seconds billed, the platform's own).
    assert result.usage.type == "tokens" and result.usage.output_tokens == len(result.logprobs)
    assert result.usage.input_token_details.audio_tokens == 550
    assert result.usage.seconds == 11


@pytest.mark.parametrize("model", ["gpt-4o-transcribe", "gpt-4o-mini-transcribe"])
def test_gpt_4o_models_answer_json_and_text(client, model):
    with JFK.open("rb") as f:
        result = client.audio.transcriptions.create(model=model, file=f)
    assert_jfk(result.text)
    assert result.logprobs is None
    with JFK.open("rb") as f:
        body = client.audio.transcriptions.create(model=model, file=f, response_format="text")
    assert isinstance(body, str)
    assert_jfk(body)


@pytest.mark.parametrize("fmt", ["srt", "verbose_json"])
def test_gpt_4o_refuses_other_formats_as_openai_does(client, fmt):
    with pytest.raises(openai.BadRequestError) as info, JFK.open("rb") as f:
        client.audio.transcriptions.create(model="gpt-4o-transcribe", file=f, response_format=fmt)
    assert info.value.code == "unsupported_value" and info.value.param == "response_format"
    assert info.value.body["message"] == (
        f"response_format '{fmt}' is not compatible with model 'gpt-4o-transcribe'. "
        "Use 'json' or 'text' instead."
    )


def test_logprobs_with_whisper_1_are_refused(client):
    with pytest.raises(openai.BadRequestError) as info, JFK.open("rb") as f:
        client.audio.transcriptions.create(model="whisper-1", file=f, include=["logprobs"])
    assert info.value.code == "unsupported_value" and info.value.param == "include"


def test_stream_events_carry_logprobs(client):
    with JFK.open("rb") as f:
        stream = client.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=f, stream=True, include=["logprobs"]
        )
        events = list(stream)
    deltas, done = events[:-1], events[-1]
    assert done.type == "transcript.text.done"
    for delta in deltas:
        assert delta.type == "transcript.text.delta"
        assert spelled_by(delta.logprobs) == delta.delta.strip()
    assert [lp.logprob for d in deltas for lp in d.logprobs] == [lp.logprob for lp in done.logprobs]
    assert spelled_by(done.logprobs) == done.text
    assert_jfk(done.text)


def test_keywords_prime_the_decoder(client):
    def text(**fields) -> str:
        with HOTWORDS.open("rb") as f:
            return client.audio.transcriptions.create(model="whisper-1", file=f, **fields).text

    assert "ComfyUI" not in text()
    assert "ComfyUI" in text(keywords=["ComfyUI"])


# Three real decodes of the German half's first sentence on whisper-1 (the engine path under
# test: languages[] restricts detection; as tests/api's test of the same).
def test_languages_restrict_detection(client):
    def transcribe(*languages: str):
        return client.audio.transcriptions.create(
            model="whisper-1",
            file=("german.wav", german_sentence_wav(), "audio/wav"),
            response_format="verbose_json",
            languages=list(languages),
        )

    german = transcribe("de")
    assert german.language == "german"
    assert {"und", "die"} & set(words(german.text))
    assert transcribe("en", "de").language == "german"
    assert transcribe("nl", "en").language in ("dutch", "english")


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


# --- gpt-4o-transcribe-diarize ------------------------------------------------------------------


def test_diarized_json_with_a_known_speaker(client, tmp_path):
    from openai.types.audio import TranscriptionDiarized

    from tests.api.test_diarized import DIARIZE, assert_diarized, conversation, reference

    path = tmp_path / "conversation.wav"
    path.write_bytes(conversation()[0])
    with path.open("rb") as f:
        result = client.audio.transcriptions.create(
            model=DIARIZE,
            file=f,
            response_format="diarized_json",
            known_speaker_names=["agent"],
            known_speaker_references=[reference("allison")],
        )
    assert isinstance(result, TranscriptionDiarized)
    assert_diarized(result.model_dump(exclude_none=True), names={"jfk": "A", "allison": "agent"})
