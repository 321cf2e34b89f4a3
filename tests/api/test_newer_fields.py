"""OpenAI's newer transcription fields (`include[]=logprobs`, `keywords[]`, `languages[]`) and
its gpt-4o model ids: what the official openai SDK sends is understood, every refusal is an
exact OpenAI-shaped error that leaves nothing behind, and the gpt-4o ids are listed and set by
the environment (real inference: test_newer_fields_inference.py)."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from api.serializers import messages
from tests.api.conftest import CAPTURED
from tests.api.uploads import post
from tests.conftest import assert_error
from tests.sdk import replay, sdk_request

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = django_settings.BASE_DIR


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
