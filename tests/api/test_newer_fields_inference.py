"""OpenAI's newer transcription fields and its gpt-4o model ids on real inference (django-q2
runs jobs inline in tests): what was asked is given, logprobs, usage in tokens, keywords and
languages; what the SDK sends and what is refused: test_newer_fields.py."""

import io
import json
import math
from dataclasses import asdict

import pytest
from openai.types.audio import Transcription, TranscriptionTextDoneEvent

import speech as engine
from tests.api.uploads import post, upload
from tests.audio import HOTWORDS, JFK_TEXT, german_sentence_wav, german_wav, long_speech_flac, words
from tests.conftest import assert_error
from tests.sdk import replay, sdk_request
from tests.streams import streamed
from transcriptions.models import Job
from transcriptions.services import AudioRequest

# The subject is what the platform makes of real output: identical real decodes run once per
# session (`shared_decode`, docs/tests.md).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shared_decode")]


# --- Real inference -------------------------------------------------------------------------------


@pytest.fixture
def gpt_4o_on_tiny(settings):
    """gpt-4o-transcribe runs on tiny.en here (English audio only): a faster decode."""
    settings.WHISPER_MODEL_ALIASES = {
        **settings.WHISPER_MODEL_ALIASES,
        "gpt-4o-transcribe": "tiny.en",
    }


def assert_logprobs_spell(text: str, logprobs: list[dict]) -> None:
    """Tokens with their bytes and a log probability each, which put together are the text."""
    assert logprobs
    for item in logprobs:
        assert set(item) == {"token", "bytes", "logprob"}
        assert isinstance(item["logprob"], float) and item["logprob"] <= 0
        assert bytes(item["bytes"]).decode("utf-8", errors="replace") == item["token"]
    assert b"".join(bytes(i["bytes"]) for i in logprobs).decode().strip() == text
    assert "".join(i["token"] for i in logprobs).strip() == text


@pytest.mark.inference
def test_json_with_logprobs_through_the_sdk(api_a):
    response = replay(api_a, sdk_request(model="gpt-4o-transcribe", include=["logprobs"]))
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert list(body) == ["text", "logprobs", "usage"]
    assert words(body["text"]) == words(JFK_TEXT)
    assert_logprobs_spell(body["text"], body["logprobs"])
    # Per token, not per word: punctuation has tokens of its own.
    tokens = [item["token"] for item in body["logprobs"]]
    assert "," in tokens and "." in tokens and len(tokens) > len(words(body["text"]))
    # OpenAI's usage of gpt-4o-transcribe counts tokens: as many output tokens as there are
    # scored ones, 50 audio tokens a second, and the seconds billed.
    audio = math.ceil(Job.objects.get().duration * 50)
    assert audio == 550
    assert body["usage"] == {
        "type": "tokens",
        "input_tokens": audio,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio},
        "output_tokens": len(body["logprobs"]),
        "total_tokens": audio + len(body["logprobs"]),
        "seconds": 11,
    }
    parsed = Transcription.model_validate(body)  # the SDK's own type
    assert parsed.logprobs[0].logprob == body["logprobs"][0]["logprob"]


@pytest.mark.inference
def test_usage_counts_tokens_for_the_gpt_4o_ids_only(api_a, gpt_4o_on_tiny):
    from billing.models import UsageRecord

    body = post(api_a, model="gpt-4o-transcribe", prompt="ComfyUI", **{"keywords[]": ["JFK"]})
    usage = body.json()["usage"]
    tokenizer = engine.get_model("tiny.en").hf_tokenizer
    given = [tokenizer.encode(text, add_special_tokens=False).ids for text in (" ComfyUI", " JFK")]
    assert usage["input_token_details"] == {
        "text_tokens": sum(map(len, given)),
        "audio_tokens": 550,
    }
    job = Job.objects.get()
    eot = tokenizer.token_to_id("<|endoftext|>")  # timestamps and special tokens from here
    decoded = sum(t < eot for segment in job.result["segments"] for t in segment["tokens"])
    assert usage["output_tokens"] == decoded > 10
    assert usage["input_tokens"] == 550 + sum(map(len, given))
    assert usage["total_tokens"] == usage["input_tokens"] + decoded
    # Billed by the second all the same.
    assert usage["seconds"] == 11
    assert UsageRecord.objects.get(job_id=job.public_id).billed_seconds == 11
    for model in ("whisper-1", "tiny.en"):
        assert post(api_a, model=model).json()["usage"] == {"type": "duration", "seconds": 11}


@pytest.mark.inference
def test_logprobs_leave_the_text_as_it_is(api_a, gpt_4o_on_tiny):
    plain = post(api_a, model="gpt-4o-transcribe").json()
    scored = post(api_a, model="gpt-4o-transcribe", **{"include[]": ["logprobs"]}).json()
    assert set(plain) == {"text", "usage"}  # without include: as ever
    assert scored["text"] == plain["text"]


@pytest.mark.inference
def test_gpt_4o_answers_text(api_a, gpt_4o_on_tiny):
    response = post(api_a, model="gpt-4o-transcribe", response_format="text")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert words(response.content.decode()) == words(JFK_TEXT)
    job = Job.objects.get()
    assert (job.requested_model, job.model) == ("gpt-4o-transcribe", "tiny.en")


def sse(response) -> list[dict]:
    text = streamed(response).decode()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@pytest.mark.inference
def test_stream_events_carry_their_tokens_logprobs(api_a, gpt_4o_on_tiny):
    response = replay(
        api_a, sdk_request(model="gpt-4o-transcribe", include=["logprobs"], stream=True)
    )
    assert response.status_code == 200
    events = sse(response)
    deltas, done = events[:-1], events[-1]
    assert deltas and all(e["type"] == "transcript.text.delta" for e in deltas)
    assert done["type"] == "transcript.text.done"
    for delta in deltas:
        assert_logprobs_spell(delta["delta"].strip(), delta["logprobs"])
    assert [i for d in deltas for i in d["logprobs"]] == done["logprobs"]
    assert_logprobs_spell(done["text"], done["logprobs"])
    assert list(done) == ["type", "text", "logprobs", "usage"]
    assert done["usage"]["type"] == "tokens"
    assert done["usage"]["output_tokens"] == len(done["logprobs"])
    assert TranscriptionTextDoneEvent.model_validate(done).usage.total_tokens > 550


@pytest.mark.inference
def test_a_job_of_several_chunks_has_its_logprobs_in_chunk_order(api_a, gpt_4o_on_tiny):
    upload_ = io.BytesIO(long_speech_flac())
    upload_.name = "long.flac"
    response = api_a.client.post(
        "/v1/audio/jobs",
        {"file": upload_, "model": "gpt-4o-transcribe", "include[]": ["logprobs"]},
        format="multipart",
    )
    assert response.status_code == 202, response.content[:500]
    job = api_a.client.get(f"/v1/audio/jobs/{response.json()['id']}").json()
    assert job["status"] == "succeeded"
    assert Job.objects.get().chunk_count >= 3
    result = job["result"]
    assert list(result) == ["text", "logprobs", "usage"]
    assert_logprobs_spell(result["text"], result["logprobs"])
    assert job["usage"] == result["usage"]
    duration = Job.objects.get().duration
    assert result["usage"]["input_token_details"]["audio_tokens"] == math.ceil(duration * 50)
    assert result["usage"]["output_tokens"] == len(result["logprobs"])


@pytest.mark.inference
def test_keywords_prime_the_decoder(api_a):
    def text(**fields) -> str:
        return post(api_a, audio=HOTWORDS, model="whisper-1", **fields).json()["text"]

    assert "ComfyUI" not in text()
    assert "ComfyUI" in text(**{"keywords[]": ["ComfyUI"]})
    assert Job.objects.order_by("created_at").last().keywords == ["ComfyUI"]


# Three real decodes of the German half's first sentence on base (the subject is the real
# detection, which needs German speech, not all 29 s of it: the whole half, forced into
# English or Dutch, is decoded again stretch by stretch and sampled).
@pytest.mark.inference
def test_languages_restrict_detection(api_a):
    def language(*candidates: str) -> tuple[str, str]:
        body = post(
            api_a,
            audio=german_sentence_wav(),
            name="german.wav",
            model="base",
            response_format="verbose_json",
            **{"languages[]": list(candidates)},
        ).json()
        return body["language"], body["text"]

    language_, text = language("de")
    assert language_ == "german"
    assert {"und", "die"} & set(words(text))
    assert language("en", "de")[0] == "german"
    assert language("nl", "en")[0] in ("dutch", "english")  # never German, the likeliest


# Slow: 29 s of German in three chunks of at most 10 s (the German sentence alone has no
# pause long enough to cut in), each decoded as the Dutch or English detection chose, with
# stretches decoded again: several chunks are the subject.
@pytest.mark.inference
def test_the_language_is_decided_once_for_a_job_of_several_chunks(api_a, settings, monkeypatch):
    settings.CHUNK_MAX_SECONDS = 10
    real = engine.detect_language
    calls = []

    def spy(samples, **kwargs):
        calls.append(kwargs)
        return real(samples, **kwargs)

    monkeypatch.setattr(engine, "detect_language", spy)
    body = post(
        api_a,
        audio=german_wav(),
        name="german.wav",
        model="base",
        response_format="verbose_json",
        **{"languages[]": ["nl", "en"]},
    ).json()
    job = Job.objects.get()
    assert job.chunk_count >= 2
    assert calls == [{"model_id": "base", "candidates": ["nl", "en"]}]
    assert job.detected_language in ("nl", "en")
    assert body["language"] == {"nl": "dutch", "en": "english"}[job.detected_language]


@pytest.mark.inference
def test_a_stream_of_several_chunks_sends_every_token_once(api_a, gpt_4o_on_tiny):
    upload_ = io.BytesIO(long_speech_flac())
    upload_.name = "long.flac"
    response = api_a.client.post(
        "/v1/audio/transcriptions",
        {
            "file": upload_,
            "model": "gpt-4o-transcribe",
            "include[]": ["logprobs"],
            "stream": "true",
        },
        format="multipart",
    )
    events = sse(response)
    deltas, done = events[:-1], events[-1]
    assert Job.objects.get().chunk_count >= 3
    assert "".join(d["delta"] for d in deltas).strip() == done["text"]
    assert [i for d in deltas for i in d["logprobs"]] == done["logprobs"]
    assert_logprobs_spell(done["text"], done["logprobs"])


@pytest.mark.inference
def test_the_newer_fields_count_in_an_idempotency_keys_fingerprint_only_when_set(api_a):
    plain = AudioRequest(task="transcribe", requested_model="tiny.en", model_id="tiny.en")
    assert plain.fingerprint_fields() == {
        key: value
        for key, value in asdict(plain).items()
        if key not in ("include", "keywords", "languages", "known_speakers", "encoder_window")
    }  # a request without them is recognised as it was before they existed
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-keywords"}
    first = api_a.client.post(
        "/v1/audio/transcriptions",
        {"file": upload(), "model": "tiny.en", "keywords[]": ["Americans"]},
        format="multipart",
        **headers,
    )
    assert first.status_code == 200, first.content[:500]
    again = api_a.client.post(
        "/v1/audio/transcriptions",
        {"file": upload(), "model": "tiny.en", "keywords[]": ["Americans"]},
        format="multipart",
        **headers,
    )
    assert again.json() == first.json() and Job.objects.count() == 1
    other = api_a.client.post(
        "/v1/audio/transcriptions",
        {"file": upload(), "model": "tiny.en", "keywords[]": ["Kennedy"]},
        format="multipart",
        **headers,
    )
    assert_error(other, 400, code="idempotency_key_reused")
