"""OpenAI's newer transcription fields (`include[]=logprobs`, `keywords[]`, `languages[]`) and
its gpt-4o model ids: what the official openai SDK sends is understood, every refusal is an
exact OpenAI-shaped error that leaves nothing behind, and real inference (django-q2 runs jobs
inline in tests) gives what was asked."""

import io
import json
import math
import os
import subprocess
import sys
from dataclasses import asdict

import pytest
from django.conf import settings as django_settings
from openai.types.audio import Transcription, TranscriptionTextDoneEvent

import speech as engine
from api.errors import ApiError
from api.serializers import messages
from tests.audio import HOTWORDS, JFK, JFK_TEXT, german_wav, long_speech_flac, words
from tests.conftest import assert_error
from tests.sdk import replay, sdk_request
from tests.streams import streamed
from transcriptions.models import Job
from transcriptions.services import AudioRequest

pytestmark = pytest.mark.django_db(transaction=True)

CAPTURED = 418  # the status of a request stopped once validated (see `captured` below)
BASE_DIR = django_settings.BASE_DIR


def upload(path=JFK, name=None) -> io.BytesIO:
    fh = io.BytesIO(path.read_bytes() if not isinstance(path, bytes) else path)
    fh.name = name or getattr(path, "name", "audio.wav")
    return fh


def post(api, path="/v1/audio/transcriptions", *, audio=JFK, name=None, **fields):
    data = {"file": upload(audio, name), "model": "tiny.en", **fields}
    return api.client.post(path, data, format="multipart")


@pytest.fixture
def captured(monkeypatch) -> list[dict]:
    """The validated data of each request, which is then stopped before anything is stored."""
    seen: list[dict] = []

    def capture(*, task, data, is_async=False, callback_addresses=None):
        seen.append(dict(data))
        raise ApiError("captured", status_code=CAPTURED, code="captured")

    monkeypatch.setattr("api.views.audio.audio_request_build", capture)  # jobs' too
    return seen


@pytest.fixture
def nothing_stored():
    yield
    assert Job.objects.count() == 0, "a refused request must not leave a job"


# --- What the official openai SDK sends -----------------------------------------------------------


def test_the_sdk_sends_one_bracketed_part_per_value():
    body = sdk_request(
        model="gpt-4o-transcribe",
        include=["logprobs"],
        keywords=["ComfyUI", "Stable Diffusion"],
        languages=["en", "de"],
    ).content
    assert b'name="include[]"\r\n\r\nlogprobs\r\n' in body
    assert b'name="keywords[]"\r\n\r\nComfyUI\r\n' in body
    assert b'name="keywords[]"\r\n\r\nStable Diffusion\r\n' in body
    assert b'name="languages[]"\r\n\r\nen\r\n' in body
    assert b'name="languages[]"\r\n\r\nde\r\n' in body


def test_what_the_sdk_sends_is_understood(api_a, captured, nothing_stored):
    response = replay(
        api_a,
        sdk_request(
            model="gpt-4o-transcribe",
            include=["logprobs"],
            keywords=[" ComfyUI ", "Stable Diffusion", "ComfyUI", ""],
            languages=["EN", "de", "en"],
        ),
    )
    assert response.status_code == CAPTURED, response.content[:500]
    data = captured[0]
    assert data["include"] == ["logprobs"]
    assert data["keywords"] == ["ComfyUI", "Stable Diffusion"]  # trimmed, once each, in order
    assert data["languages"] == ["en", "de"]


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/jobs"])
def test_plain_repeated_fields_are_understood_too(api_a, captured, nothing_stored, path):
    response = post(api_a, path, keywords=["ComfyUI", "Krita"], languages=["fr"])
    assert response.status_code == CAPTURED, response.content[:500]
    assert captured[0]["keywords"] == ["ComfyUI", "Krita"]
    assert captured[0]["languages"] == ["fr"]
    assert captured[0]["include"] == []


def test_translations_take_none_of_them(api_a, captured, nothing_stored):
    response = post(
        api_a,
        "/v1/audio/translations",
        model="base",
        **{"include[]": ["bogus"], "keywords[]": ["x" * 500], "languages[]": ["xx"]},
    )
    assert response.status_code == CAPTURED, response.content[:500]
    assert not {"include", "keywords", "languages"} & set(captured[0])


# --- Refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o-transcribe", "gpt-4o-mini-transcribe"])
@pytest.mark.parametrize("fmt", ["srt", "verbose_json", "vtt"])
def test_gpt_4o_models_answer_only_json_and_text(api_a, nothing_stored, model, fmt):
    response = post(api_a, model=model, response_format=fmt)
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="response_format",
        # OpenAI's own message (openai/openai-dotnet#401).
        message=f"response_format '{fmt}' is not compatible with model '{model}'. "
        "Use 'json' or 'text' instead.",
    )


@pytest.mark.parametrize("path", ["/v1/audio/jobs", "/v1/audio/translations"])
def test_gpt_4o_format_refusal_on_jobs_and_translations(api_a, nothing_stored, path):
    response = post(api_a, path, model="gpt-4o-transcribe", response_format="srt")
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="response_format",
        message="response_format 'srt' is not compatible with model 'gpt-4o-transcribe'. "
        "Use 'json' or 'text' instead.",
    )


def test_gpt_4o_refuses_verbose_json_before_granularities(api_a, nothing_stored):
    response = post(
        api_a,
        model="gpt-4o-mini-transcribe",
        response_format="verbose_json",
        **{"timestamp_granularities[]": ["word"]},
    )
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="response_format",
        message=messages.MSG_MODEL_FORMAT.format(
            value="verbose_json", model="gpt-4o-mini-transcribe"
        ),
    )


@pytest.mark.parametrize("model", ["whisper-1", "tiny.en", "base"])
def test_logprobs_need_a_gpt_4o_model(api_a, nothing_stored, model):
    response = post(api_a, model=model, **{"include[]": ["logprobs"]})
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="include",
        message="Unsupported value: 'include' does not support 'logprobs' with this model. "
        "Use 'gpt-4o-transcribe' or 'gpt-4o-mini-transcribe'.",
    )


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/jobs"])
def test_logprobs_need_response_format_json(api_a, nothing_stored, path):
    response = post(
        api_a,
        path,
        model="gpt-4o-transcribe",
        response_format="text",
        **{"include[]": ["logprobs"]},
    )
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="include",
        message="Unsupported value: 'include' does not support 'logprobs' with response_format "
        "'text'. Use 'json' instead.",
    )


def test_an_unknown_include_value_is_refused(api_a, nothing_stored):
    response = post(api_a, model="gpt-4o-transcribe", **{"include[]": ["logprobs", "words"]})
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="include",
        message="Invalid value: 'words'. Supported values are: 'logprobs'.",
    )


def test_too_many_keywords_are_refused(api_a, nothing_stored):
    response = post(api_a, **{"keywords[]": [f"word{i}" for i in range(101)]})
    assert_error(
        response,
        400,
        code="array_above_max_length",
        param="keywords",
        message="Invalid 'keywords': array too long. Expected an array with maximum length 100, "
        "but got an array with length 101 instead.",
    )


def test_a_keyword_too_long_is_refused(api_a, nothing_stored):
    response = post(api_a, **{"keywords[]": ["ComfyUI", "x" * 101]})
    assert_error(
        response,
        400,
        code="string_above_max_length",
        param="keywords",
        message="Invalid 'keywords[1]': string too long. Expected a string with maximum length "
        "100, but got a string with length 101 instead.",
    )


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/jobs"])
@pytest.mark.parametrize("value", ["xx", "english", "en-US"])
def test_a_language_that_is_no_iso_639_1_code_is_refused(api_a, nothing_stored, path, value):
    response = post(api_a, path, model="base", **{"languages[]": ["en", value]})
    assert_error(
        response,
        400,
        code="invalid_language_format",
        param="languages",
        message=f"Invalid language '{value.lower()}'. Language parameter must be specified in "
        "ISO-639-1 format.",
    )


def test_an_english_only_model_needs_english_among_the_languages(api_a, nothing_stored):
    response = post(api_a, model="tiny.en", **{"languages[]": ["de", "fr"]})
    assert_error(
        response,
        400,
        code="unsupported_language",
        param="languages",
        message="The model `tiny.en` is English-only; it cannot transcribe any of the languages "
        "'de', 'fr'.",
    )


# --- Models ---------------------------------------------------------------------------------------


def test_gpt_4o_model_ids_are_listed_and_known(api_a):
    ids = [m["id"] for m in api_a.client.get("/v1/models").json()["data"]]
    assert {"gpt-4o-transcribe", "gpt-4o-mini-transcribe"} <= set(ids)
    detail = api_a.client.get("/v1/models/gpt-4o-transcribe")
    assert detail.status_code == 200 and detail.json()["id"] == "gpt-4o-transcribe"


def test_what_the_gpt_4o_ids_run_on_is_set_by_the_environment(tmp_path):
    env = {
        **os.environ,
        "PLATFORM_VAR_DIR": str(tmp_path),
        "WHISPER_GPT_4O_TRANSCRIBE_MODEL": "tiny.en",
    }
    done = subprocess.run(
        [
            sys.executable,
            str(BASE_DIR / "manage.py"),
            "shell",
            "-c",
            "import json; from django.conf import settings; "
            "print(json.dumps(settings.WHISPER_MODEL_ALIASES))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    aliases = json.loads(done.stdout.strip().splitlines()[-1])
    assert aliases["gpt-4o-transcribe"] == "tiny.en"
    assert aliases["gpt-4o-mini-transcribe"] == "base"  # unset: the multilingual model
    assert aliases["gpt-4o-mini-transcribe-2025-12-15"] == "base"
    assert aliases["whisper-1"] == "base"


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


@pytest.mark.inference
def test_languages_restrict_detection(api_a):
    def language(*candidates: str) -> tuple[str, str]:
        body = post(
            api_a,
            audio=german_wav(),
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
