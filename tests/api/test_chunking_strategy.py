"""OpenAI's `chunking_strategy` field through the endpoints: every form it arrives in ("auto",
the openai SDK's chunking_strategy[...] fields, a JSON object) reaches the job normalized, every
bad value is refused with an exact OpenAI-shaped error, the nested field named with dots
(the parse function's own cases: test_chunking_strategy_parse.py)."""

import io

import pytest

from api.serializers.chunking import FormParts
from tests.api.chunking_cases import AUTO, REFUSED, VAD_DEFAULTS
from tests.api.conftest import CAPTURED
from tests.audio import JFK, JFK_TEXT, words
from tests.conftest import assert_error
from tests.sdk import replay, sdk_request
from transcriptions.models import Job

endpoint = pytest.mark.django_db(transaction=True)


# --- Through the endpoints --------------------------------------------------------------------


def upload() -> io.BytesIO:
    fh = io.BytesIO(JFK.read_bytes())
    fh.name = "jfk.flac"
    return fh


def post(api, path="/v1/audio/transcriptions", **fields):
    return api.client.post(
        path, {"file": upload(), "model": "tiny.en", **fields}, format="multipart"
    )


def as_form(value) -> dict:
    """A parse-function input as the multipart fields that carry it."""
    if isinstance(value, FormParts):
        return {f"chunking_strategy[{key}]": part for key, part in value.items()}
    return {"chunking_strategy": value}


FORMS = [
    ({}, AUTO),
    ({"chunking_strategy": "auto"}, AUTO),
    ({"chunking_strategy": ""}, AUTO),
    ({"chunking_strategy[type]": "server_vad"}, VAD_DEFAULTS),
    (
        {
            "chunking_strategy[type]": "server_vad",
            "chunking_strategy[prefix_padding_ms]": "150",
            "chunking_strategy[silence_duration_ms]": "500",
            "chunking_strategy[threshold]": "0.6",
        },
        {
            "type": "server_vad",
            "prefix_padding_ms": 150,
            "silence_duration_ms": 500,
            "threshold": 0.6,
        },
    ),
    (
        {"chunking_strategy": '{"type": "server_vad", "threshold": 0.6}'},
        {
            **VAD_DEFAULTS,
            "threshold": 0.6,
        },
    ),
]


@endpoint
@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/jobs"])
@pytest.mark.parametrize(("fields", "expected"), FORMS)
def test_each_form_reaches_the_job_normalized(
    api_a, captured, nothing_stored, path, fields, expected
):
    response = post(api_a, path, **fields)
    assert response.status_code == CAPTURED, response.content[:500]
    assert captured[0]["chunking_strategy"] == expected


@endpoint
@pytest.mark.parametrize(("value", "param", "code", "message"), REFUSED[:-1])  # 7: no form has it
def test_each_refusal_through_the_endpoint(
    api_a, captured, nothing_stored, value, param, code, message
):
    response = post(api_a, **as_form(value))
    assert_error(response, 400, code=code, param=param, message=message)
    assert captured == []


@endpoint
def test_jobs_refuse_as_transcriptions_do(api_a, captured, nothing_stored):
    response = post(api_a, "/v1/audio/jobs", **{"chunking_strategy[threshold]": "0.5"})
    assert_error(
        response,
        400,
        code="missing_required_parameter",
        param="chunking_strategy.type",
        message="Missing required parameter: 'chunking_strategy.type'.",
    )


@endpoint
def test_one_value_and_bracketed_fields_together_are_refused(api_a, captured, nothing_stored):
    response = post(api_a, chunking_strategy="auto", **{"chunking_strategy[type]": "server_vad"})
    assert_error(
        response,
        400,
        code="invalid_value",
        param="chunking_strategy",
        message="Invalid 'chunking_strategy': send either one value ('auto' or a JSON object) or "
        "the chunking_strategy[...] fields, not both.",
    )


@endpoint
@pytest.mark.parametrize("fields", [{"chunking_strategy": "manual"}, {"chunking_strategy": "auto"}])
def test_translations_ignore_it_as_their_other_unknown_fields(
    api_a, captured, nothing_stored, fields
):
    # OpenAI's translations take no chunking_strategy; ours ignore it, as they ignore
    # `language`, `stream` and `timestamp_granularities[]`.
    response = post(api_a, "/v1/audio/translations", model="base", language="xx", **fields)
    assert response.status_code == CAPTURED, response.content[:500]
    assert "chunking_strategy" not in captured[0]


# --- What the official openai SDK sends -------------------------------------------------------


def test_the_sdk_sends_an_object_as_bracketed_fields():
    request = sdk_request(
        chunking_strategy={"type": "server_vad", "threshold": 0.6, "silence_duration_ms": 400}
    )
    body = request.content
    assert b'name="chunking_strategy[type]"\r\n\r\nserver_vad\r\n' in body
    assert b'name="chunking_strategy[threshold]"\r\n\r\n0.6\r\n' in body
    assert b'name="chunking_strategy[silence_duration_ms]"\r\n\r\n400\r\n' in body
    assert b'name="chunking_strategy"\r\n' not in body
    assert (
        b'name="chunking_strategy"\r\n\r\nauto\r\n' in sdk_request(chunking_strategy="auto").content
    )


@endpoint
@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("auto", AUTO),
        ({"type": "server_vad"}, VAD_DEFAULTS),
        (
            {
                "type": "server_vad",
                "prefix_padding_ms": 0,
                "silence_duration_ms": 400,
                "threshold": 0.6,
            },
            {
                "type": "server_vad",
                "prefix_padding_ms": 0,
                "silence_duration_ms": 400,
                "threshold": 0.6,
            },
        ),
    ],
)
def test_what_the_sdk_sends_is_understood(api_a, captured, nothing_stored, strategy, expected):
    response = replay(api_a, sdk_request(chunking_strategy=strategy))
    assert response.status_code == CAPTURED, response.content[:500]
    assert captured[0]["chunking_strategy"] == expected


@endpoint
def test_what_the_sdk_sends_is_refused_with_the_dotted_param(api_a, nothing_stored):
    response = replay(
        api_a, sdk_request(chunking_strategy={"type": "server_vad", "threshold": 1.5})
    )
    assert_error(
        response,
        400,
        code="decimal_above_max_value",
        param="chunking_strategy.threshold",
        message="Invalid 'chunking_strategy.threshold': decimal above maximum value. Expected a "
        "value <= 1, but got 1.5 instead.",
    )


@pytest.mark.inference
@endpoint
def test_a_server_vad_request_from_the_sdk_is_transcribed(api_a):
    # Nothing stopped here: the real job runs (Q_CLUSTER sync) with the field in the request.
    response = replay(
        api_a, sdk_request(chunking_strategy={"type": "server_vad", "threshold": 0.6})
    )
    assert response.status_code == 200, response.content[:500]
    assert words(response.json()["text"]) == words(JFK_TEXT)
    assert Job.objects.get().status == Job.Status.SUCCEEDED
