"""OpenAI's `chunking_strategy` field: every form it arrives in ("auto", the openai SDK's
chunking_strategy[...] fields, a JSON object) normalized with OpenAI's defaults, and every bad
value refused with an exact OpenAI-shaped error, the nested field named with dots."""

import io

import pytest
from rest_framework import serializers

from api.errors import ApiError, validation_error
from api.serializers.chunking import FormParts, chunking_strategy_parse
from tests.audio import JFK, JFK_TEXT, words
from tests.conftest import assert_error
from tests.sdk import replay, sdk_request
from transcriptions.models import Job

AUTO = {"type": "auto"}
VAD_DEFAULTS = {
    "type": "server_vad",
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "threshold": 0.5,
}
CAPTURED = 418  # the status of a request stopped once validated (see `captured` below)
endpoint = pytest.mark.django_db(transaction=True)


# --- The parse function -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, AUTO),
        ("", AUTO),
        ("auto", AUTO),
        (" auto ", AUTO),
        (FormParts(type="server_vad"), VAD_DEFAULTS),
        (
            FormParts(
                type="server_vad", prefix_padding_ms="100", silence_duration_ms="0", threshold="1"
            ),
            {**VAD_DEFAULTS, "prefix_padding_ms": 100, "silence_duration_ms": 0, "threshold": 1.0},
        ),
        (FormParts(type="server_vad", threshold="0"), {**VAD_DEFAULTS, "threshold": 0.0}),
        (
            FormParts(type="server_vad", silence_duration_ms="60000"),
            {
                **VAD_DEFAULTS,
                "silence_duration_ms": 60000,
            },
        ),
        ('{"type": "server_vad"}', VAD_DEFAULTS),
        ('{"type": "server_vad", "threshold": 0.6}', {**VAD_DEFAULTS, "threshold": 0.6}),
        (
            ' {"type": "server_vad", "prefix_padding_ms": 500, "silence_duration_ms": 800,'
            ' "threshold": 1} ',
            {**VAD_DEFAULTS, "prefix_padding_ms": 500, "silence_duration_ms": 800, "threshold": 1},
        ),
        ('{"type": "server_vad", "prefix_padding_ms": 300.0}', VAD_DEFAULTS),
        ({"type": "server_vad", "threshold": 0.25}, {**VAD_DEFAULTS, "threshold": 0.25}),
    ],
)
def test_parse_normalizes_every_form(value, expected):
    parsed = chunking_strategy_parse(value)
    assert parsed == expected
    if parsed["type"] == "server_vad":
        assert type(parsed["prefix_padding_ms"]) is int
        assert type(parsed["silence_duration_ms"]) is int
        assert type(parsed["threshold"]) is float


def vad(**parts) -> FormParts:
    return FormParts(type="server_vad", **parts)


# (value, param, code, exact message): what the parse function refuses, as the API answers it.
REFUSED = [
    (
        "manual",
        "chunking_strategy",
        "unsupported_value",
        "Invalid value: 'manual'. Supported values are: 'auto'.",
    ),
    (
        "AUTO",
        "chunking_strategy",
        "unsupported_value",
        "Invalid value: 'AUTO'. Supported values are: 'auto'.",
    ),
    (
        "server_vad",
        "chunking_strategy",
        "unsupported_value",
        "Invalid value: 'server_vad'. Supported values are: 'auto'.",
    ),
    (
        '{"type": "server_vad",',
        "chunking_strategy",
        "invalid_value",
        "Invalid 'chunking_strategy': expected 'auto' or a JSON object, but the value is not "
        "valid JSON.",
    ),
    (
        '{"type": "server_vad", "threshold": NaN}',
        "chunking_strategy",
        "invalid_value",
        "Invalid 'chunking_strategy': expected 'auto' or a JSON object, but the value is not "
        "valid JSON.",
    ),
    (
        FormParts(threshold="0.5"),
        "chunking_strategy.type",
        "missing_required_parameter",
        "Missing required parameter: 'chunking_strategy.type'.",
    ),
    (
        '{"threshold": 0.5}',
        "chunking_strategy.type",
        "missing_required_parameter",
        "Missing required parameter: 'chunking_strategy.type'.",
    ),
    (
        FormParts(type="semantic_vad"),
        "chunking_strategy.type",
        "unsupported_value",
        "Invalid value: 'semantic_vad'. Supported values are: 'server_vad'.",
    ),
    (
        '{"type": "auto"}',
        "chunking_strategy.type",
        "unsupported_value",
        "Invalid value: 'auto'. Supported values are: 'server_vad'.",
    ),
    (
        '{"type": 1}',
        "chunking_strategy.type",
        "invalid_type",
        "Invalid type for 'chunking_strategy.type': expected a string, but got an integer instead.",
    ),
    (
        vad(padding_ms="300"),
        "chunking_strategy.padding_ms",
        "unknown_parameter",
        "Unknown parameter: 'chunking_strategy.padding_ms'.",
    ),
    (
        '{"type": "server_vad", "min_speech_ms": 250}',
        "chunking_strategy.min_speech_ms",
        "unknown_parameter",
        "Unknown parameter: 'chunking_strategy.min_speech_ms'.",
    ),
    (
        vad(threshold="loud"),
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a string "
        "instead.",
    ),
    (
        vad(threshold="nan"),
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a string "
        "instead.",
    ),
    (
        '{"type": "server_vad", "threshold": "0.5"}',
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a string "
        "instead.",
    ),
    (
        '{"type": "server_vad", "threshold": true}',
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got a boolean "
        "instead.",
    ),
    (
        '{"type": "server_vad", "threshold": null}',
        "chunking_strategy.threshold",
        "invalid_type",
        "Invalid type for 'chunking_strategy.threshold': expected a decimal, but got null instead.",
    ),
    (
        vad(threshold="1.5"),
        "chunking_strategy.threshold",
        "decimal_above_max_value",
        "Invalid 'chunking_strategy.threshold': decimal above maximum value. Expected a value "
        "<= 1, but got 1.5 instead.",
    ),
    (
        '{"type": "server_vad", "threshold": 2}',
        "chunking_strategy.threshold",
        "decimal_above_max_value",
        "Invalid 'chunking_strategy.threshold': decimal above maximum value. Expected a value "
        "<= 1, but got 2 instead.",
    ),
    (
        vad(threshold="-0.1"),
        "chunking_strategy.threshold",
        "decimal_below_min_value",
        "Invalid 'chunking_strategy.threshold': decimal below minimum value. Expected a value "
        ">= 0, but got -0.1 instead.",
    ),
    (
        vad(prefix_padding_ms="lots"),
        "chunking_strategy.prefix_padding_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.prefix_padding_ms': expected an integer, but got a "
        "string instead.",
    ),
    (
        vad(silence_duration_ms="200.5"),
        "chunking_strategy.silence_duration_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.silence_duration_ms': expected an integer, but got "
        "a decimal instead.",
    ),
    (
        '{"type": "server_vad", "silence_duration_ms": 0.5}',
        "chunking_strategy.silence_duration_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.silence_duration_ms': expected an integer, but got "
        "a decimal instead.",
    ),
    (
        '{"type": "server_vad", "prefix_padding_ms": "300"}',
        "chunking_strategy.prefix_padding_ms",
        "invalid_type",
        "Invalid type for 'chunking_strategy.prefix_padding_ms': expected an integer, but got a "
        "string instead.",
    ),
    (
        vad(prefix_padding_ms="-1"),
        "chunking_strategy.prefix_padding_ms",
        "integer_below_min_value",
        "Invalid 'chunking_strategy.prefix_padding_ms': integer below minimum value. Expected a "
        "value >= 0, but got -1 instead.",
    ),
    (
        '{"type": "server_vad", "silence_duration_ms": -200}',
        "chunking_strategy.silence_duration_ms",
        "integer_below_min_value",
        "Invalid 'chunking_strategy.silence_duration_ms': integer below minimum value. Expected "
        "a value >= 0, but got -200 instead.",
    ),
    (
        vad(silence_duration_ms="60001"),
        "chunking_strategy.silence_duration_ms",
        "integer_above_max_value",
        "Invalid 'chunking_strategy.silence_duration_ms': integer above maximum value. Expected "
        "a value <= 60000, but got 60001 instead.",
    ),
    (
        7,
        "chunking_strategy",
        "invalid_type",
        "Invalid type for 'chunking_strategy': expected one of a string or an object, but got an "
        "integer instead.",
    ),
]


@pytest.mark.parametrize(("value", "param", "code", "message"), REFUSED)
def test_parse_refuses_with_openai_messages(value, param, code, message):
    with pytest.raises(serializers.ValidationError) as raised:
        chunking_strategy_parse(value)
    error = validation_error({"chunking_strategy": raised.value.detail})
    assert (error.param, error.code, error.message) == (param, code, message)


# --- Through the endpoints --------------------------------------------------------------------


def upload() -> io.BytesIO:
    fh = io.BytesIO(JFK.read_bytes())
    fh.name = "jfk.flac"
    return fh


def post(api, path="/v1/audio/transcriptions", **fields):
    return api.client.post(
        path, {"file": upload(), "model": "tiny.en", **fields}, format="multipart"
    )


@pytest.fixture
def captured(monkeypatch) -> list[dict]:
    """The validated data of each request, which is then stopped before anything is stored."""
    seen: list[dict] = []

    def capture(*, task, data, is_async=False, callback_addresses=None):
        seen.append(dict(data))
        raise ApiError("captured", status_code=CAPTURED, code="captured")

    monkeypatch.setattr("api.views.audio.audio_request_build", capture)
    return seen


@pytest.fixture
def nothing_stored():
    yield
    assert Job.objects.count() == 0, "a refused request must not leave a job"


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
