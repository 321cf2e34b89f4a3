"""What each bad input of SPEC section 5 gets: an exact OpenAI-shaped error, and nothing left
behind (no job row, no stored file)."""

import io
from datetime import timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import ApiKey
from api.serializers import messages as serializers
from speech import audio
from tests.audio import JFK
from tests.conftest import assert_error
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture(autouse=True)
def nothing_left_behind():
    before = stored_files()
    yield
    assert Job.objects.count() == 0, "a refused request must not leave a job"
    assert stored_files() == before, "a refused request must not leave a stored file"


def upload(name: str, blob: bytes) -> io.BytesIO:
    fh = io.BytesIO(blob)
    fh.name = name
    return fh


def post(api, path="/v1/audio/transcriptions", **data):
    return api.client.post(path, data, format="multipart")


def video_without_audio() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), i * 20, dtype=np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def test_empty_file(api_a):
    response = post(api_a, file=upload("empty.wav", b""), model="tiny.en")
    assert_error(response, 400, code="invalid_value", param="file", message=audio.MSG_EMPTY)


def test_truncated_audio(api_a):
    response = post(api_a, file=upload("jfk.flac", JFK.read_bytes()[:4000]), model="tiny.en")
    assert_error(response, 400, code="invalid_value", param="file", message=audio.MSG_UNDECODABLE)


def test_random_bytes_with_an_audio_name(api_a):
    noise = np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    response = post(api_a, file=upload("speech.mp3", noise), model="tiny.en")
    assert_error(response, 400, code="invalid_value", param="file", message=audio.MSG_UNDECODABLE)


def test_text_file_with_a_non_audio_extension(api_a):
    response = post(api_a, file=upload("notes.txt", b"hello world\n" * 100), model="tiny.en")
    assert_error(
        response, 400, code="unsupported_value", param="file", message=audio.MSG_INVALID_FORMAT
    )


def test_video_without_audio_track(api_a):
    response = post(api_a, file=upload("clip.mp4", video_without_audio()), model="tiny.en")
    assert_error(response, 400, code="invalid_value", param="file", message=audio.MSG_NO_AUDIO)


def test_hours_of_silence_over_the_plans_duration_limit(api_a):
    from billing.selectors import tenant_limits
    from billing.services import MSG_AUDIO_TOO_LONG
    from tests.audio import long_silence_flac

    limit = tenant_limits(tenant=api_a.tenant).max_audio_seconds
    response = post(api_a, file=upload("silence.flac", long_silence_flac(3 * 3600)), model="base")
    assert_error(
        response,
        400,
        code="audio_too_long",
        param="file",
        message=MSG_AUDIO_TOO_LONG.format(duration=10800.0, limit=limit),
    )


def test_missing_file(api_a):
    response = post(api_a, model="tiny.en")
    assert_error(
        response, 400, code="required", param="file", message="You must provide a 'file' parameter."
    )


def test_missing_model(api_a):
    response = post(api_a, file=upload("jfk.flac", JFK.read_bytes()))
    assert_error(
        response,
        400,
        code="required",
        param="model",
        message="You must provide a 'model' parameter.",
    )


def test_unknown_model(api_a):
    response = post(api_a, file=upload("jfk.flac", JFK.read_bytes()), model="whisper-9")
    assert_error(
        response,
        404,
        code="model_not_found",
        param="model",
        message="The model `whisper-9` does not exist or you do not have access to it.",
    )
    detail = api_a.client.get("/v1/models/whisper-9")
    assert_error(
        detail, 404, code="model_not_found", message="The model 'whisper-9' does not exist"
    )


def test_bad_language_code(api_a):
    response = post(api_a, file=upload("jfk.flac", JFK.read_bytes()), model="base", language="xx")
    assert_error(
        response,
        400,
        code="invalid_language_format",
        param="language",
        message=serializers.MSG_LANGUAGE.format(value="xx"),
    )


def test_non_english_language_on_english_only_model(api_a):
    response = post(
        api_a, file=upload("jfk.flac", JFK.read_bytes()), model="tiny.en", language="de"
    )
    assert_error(
        response,
        400,
        code="unsupported_language",
        param="language",
        message="The model `tiny.en` is English-only; it cannot transcribe language 'de'.",
    )


def test_english_only_model_refuses_translation(api_a):
    response = post(
        api_a,
        "/v1/audio/translations",
        file=upload("jfk.flac", JFK.read_bytes()),
        model="tiny.en",
    )
    assert_error(
        response,
        400,
        code="unsupported_model",
        param="model",
        message="The model `tiny.en` is English-only and cannot translate; use a multilingual "
        "model such as `whisper-1`.",
    )


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        ("1.5", "decimal_above_max_value", serializers.MSG_TEMPERATURE_MAX.format(value="1.5")),
        ("-0.1", "decimal_below_min_value", serializers.MSG_TEMPERATURE_MIN.format(value="-0.1")),
        ("warm", "invalid_type", serializers.MSG_TEMPERATURE_TYPE),
    ],
)
def test_temperature_out_of_range(api_a, value, code, message):
    response = post(
        api_a, file=upload("jfk.flac", JFK.read_bytes()), model="tiny.en", temperature=value
    )
    assert_error(response, 400, code=code, param="temperature", message=message)


def test_unknown_response_format(api_a):
    response = post(
        api_a, file=upload("jfk.flac", JFK.read_bytes()), model="tiny.en", response_format="xml"
    )
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="response_format",
        message=serializers.MSG_FORMAT.format(value="xml"),
    )


def test_granularities_without_verbose_json(api_a):
    response = post(
        api_a,
        file=upload("jfk.flac", JFK.read_bytes()),
        model="tiny.en",
        **{"timestamp_granularities[]": ["word"]},
    )
    assert_error(
        response,
        400,
        code="invalid_value",
        param="timestamp_granularities[]",
        message="`response_format` must be `verbose_json` if `timestamp_granularities[]` is "
        "provided",
    )


def test_unknown_granularity(api_a):
    response = post(
        api_a,
        file=upload("jfk.flac", JFK.read_bytes()),
        model="tiny.en",
        response_format="verbose_json",
        **{"timestamp_granularities[]": ["sentence"]},
    )
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="timestamp_granularities",
        message=serializers.MSG_GRANULARITY_VALUE.format(value="sentence"),
    )


def test_truncated_multipart_body(api_a):
    # Django's parser keeps the parts it could read: a body cut inside the first part has none,
    # so the client learns which field is missing.
    response = api_a.client.generic(
        "POST",
        "/v1/audio/transcriptions",
        b"--xyz\r\nContent-Disposition: form-data; na",
        content_type="multipart/form-data; boundary=xyz",
    )
    assert_error(
        response, 400, code="required", param="file", message="You must provide a 'file' parameter."
    )


def test_multipart_without_boundary(api_a):
    response = api_a.client.generic(
        "POST", "/v1/audio/transcriptions", b"file=abc", content_type="multipart/form-data"
    )
    error = assert_error(response, 400, code="invalid_request")
    assert error["message"].startswith("Could not parse multipart form")


def test_json_body_instead_of_multipart(api_a):
    response = api_a.client.post("/v1/audio/transcriptions", {"model": "tiny.en"}, format="json")
    assert_error(
        response,
        415,
        code="unsupported_media_type",
        message="Unsupported Content-Type: send the request as multipart/form-data.",
    )


def test_over_the_size_limit_by_declared_length(api_a, settings):
    settings.MAX_UPLOAD_BYTES = 100_000
    big = upload("big.wav", b"\0" * 200_000)
    response = post(api_a, file=big, model="tiny.en")
    error = assert_error(response, 413, code="request_too_large", param="file")
    assert error["message"].startswith("Maximum content size limit (100000) exceeded (")


def test_over_the_size_limit_within_the_envelope_slack(api_a, settings):
    # Declared length passes the first check; the streaming counter stops the file itself.
    settings.MAX_UPLOAD_BYTES = 100_000
    response = post(api_a, file=upload("big.wav", b"\0" * 120_000), model="tiny.en")
    error = assert_error(response, 413, code="request_too_large", param="file")
    assert error["message"].startswith("Maximum content size limit (100000) exceeded (")


def test_no_key(api_a):
    api_a.client.credentials()
    response = post(api_a, file=upload("jfk.flac", JFK.read_bytes()), model="tiny.en")
    assert_error(
        response,
        401,
        code="invalid_api_key",
        message="You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    )


def test_wrong_key(api_a):
    api_a.client.credentials(HTTP_AUTHORIZATION="Bearer sk-" + "A" * 52)
    response = api_a.client.get("/v1/models")
    assert_error(
        response,
        401,
        code="invalid_api_key",
        message="Incorrect API key provided: sk-AAA********AAAA. You can find your API key in "
        "the dashboard.",
    )


def test_revoked_key(api_a):
    ApiKey.objects.filter(pk=api_a.api_key.pk).update(revoked_at=timezone.now())
    response = post(api_a, file=upload("jfk.flac", JFK.read_bytes()), model="tiny.en")
    masked = f"{api_a.key[:6]}********{api_a.key[-4:]}"
    assert_error(
        response, 401, code="invalid_api_key", message=f"The API key {masked} has been revoked."
    )


def test_expired_key(api_a):
    ApiKey.objects.filter(pk=api_a.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = api_a.client.get("/v1/models")
    masked = f"{api_a.key[:6]}********{api_a.key[-4:]}"
    assert_error(
        response, 401, code="invalid_api_key", message=f"The API key {masked} has expired."
    )


def test_unknown_api_url_is_json(api_a):
    response = api_a.client.get("/v1/audio/nothing-here")
    assert_error(
        response,
        404,
        code="unknown_url",
        message="Unknown request URL: GET /v1/audio/nothing-here.",
    )


def test_wrong_method(api_a):
    response = api_a.client.get("/v1/audio/transcriptions")
    assert_error(response, 405, code="method_not_allowed", message='Method "GET" not allowed.')
