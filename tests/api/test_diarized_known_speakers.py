"""gpt-4o-transcribe-diarize's known speakers (`known_speaker_names[]`,
`known_speaker_references[]`): a voice given a name is labelled with it, with real inference,
and every refusal of the references is an exact OpenAI-shaped error that leaves nothing
behind."""

import base64
import tracemalloc

import pytest
from django.core.files.storage import default_storage

from api.serializers import messages
from speech import diarization
from tests.api.diarized import REFERENCES, assert_diarized, post, reference
from tests.audio import JFK, long_silence_flac
from tests.conftest import assert_error
from transcriptions.models import Job

# The subject is what the platform makes of real output: identical real decodes run once per
# session (`shared_decode`, docs/tests.md).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shared_decode")]


# --- Known speakers ---------------------------------------------------------------------------


@pytest.mark.inference
def test_known_speakers_take_their_names(api_a):
    """A known speaker is named; a voice nobody named keeps a letter (OpenAI's example:
    "agent" and "A")."""
    response = post(
        api_a,
        response_format="diarized_json",
        **{
            "known_speaker_names[]": ["agent"],
            "known_speaker_references[]": [reference("allison")],
        },
    )
    assert response.status_code == 200, response.content[:500]
    assert_diarized(response.json(), names={"jfk": "A", "allison": "agent"})
    [speaker] = Job.objects.get().known_speakers
    # Embedded by the worker; the reference file it was stored as is gone with the job.
    assert speaker["name"] == "agent" and len(speaker["embedding"]) == diarization.EMBEDDING_SIZE
    assert not default_storage.exists(speaker["reference"])


@pytest.mark.inference
def test_every_known_speaker_is_named(api_a):
    response = post(
        api_a,
        response_format="diarized_json",
        **{
            "known_speaker_names[]": ["president", "agent"],
            "known_speaker_references[]": [reference("jfk"), reference("allison")],
        },
    )
    assert response.status_code == 200, response.content[:500]
    assert_diarized(response.json(), names={"jfk": "president", "allison": "agent"})


def known(api, names, references, **fields):
    fields.setdefault("response_format", "diarized_json")
    return post(
        api,
        audio=JFK.read_bytes(),
        **{"known_speaker_names[]": names, "known_speaker_references[]": references},
        **fields,
    )


def test_known_speakers_count_must_match(api_a, nothing_stored):
    response = known(api_a, ["agent", "customer"], [reference("allison")])
    assert_error(
        response,
        400,
        code="invalid_value",
        param="known_speaker_references",
        message=(
            "Invalid 'known_speaker_references': expected as many references as "
            "'known_speaker_names' (2), but got 1 instead."
        ),
    )


def test_at_most_four_known_speakers(api_a, nothing_stored):
    response = known(api_a, ["a", "b", "c", "d", "e"], [reference("jfk")] * 5)
    assert_error(
        response,
        400,
        code="array_above_max_length",
        param="known_speaker_names",
        message=(
            "Invalid 'known_speaker_names': array too long. Expected an array with maximum "
            "length 4, but got an array with length 5 instead."
        ),
    )


@pytest.mark.parametrize("seconds", [1.0, 10.8])
def test_reference_length(api_a, nothing_stored, seconds):
    path = REFERENCES["allison"]
    REFERENCES["long"] = (path[0], 0.0, 30.0)
    response = known(api_a, ["agent"], [reference("long", seconds=seconds)])
    assert_error(
        response,
        400,
        code="invalid_value",
        param="known_speaker_references",
        message=(
            "Invalid 'known_speaker_references[0]': the audio must be between 2 and 10 "
            "seconds long."
        ),
    )


def test_a_reference_that_decodes_to_hours_is_refused_at_its_limit(api_a, nothing_stored):
    """A small file of two hours of silence: decoding stops just past 10 s (bounded in time and
    memory), and the reference is refused for its length."""
    hours = long_silence_flac(2 * 3600)
    assert len(hours) < 1_500_000
    value = "data:audio/flac;base64," + base64.b64encode(hours).decode()
    references = [reference("allison"), value]
    tracemalloc.start()
    try:
        response = known(api_a, ["agent", "jfk"], references)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Two hours decoded would hold 460 MB of samples (numpy reports its buffers to tracemalloc).
    assert peak < 100_000_000, f"{peak / 1e6:.0f} MB at the peak"
    assert_error(
        response,
        400,
        code="invalid_value",
        param="known_speaker_references",
        message=messages.MSG_REFERENCE_LENGTH.format(index=1),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://example.com/agent.wav", messages.MSG_REFERENCE_URL),
        (
            "data:audio/wav;base64," + base64.b64encode(b"not audio" * 50).decode(),
            messages.MSG_REFERENCE_AUDIO,
        ),
    ],
)
def test_reference_must_be_audio_in_a_data_url(api_a, nothing_stored, value, message):
    response = known(api_a, ["jfk", "agent"], [reference("jfk"), value])
    assert_error(
        response,
        400,
        code="invalid_value",
        param="known_speaker_references",
        message=message.format(index=1),
    )
    assert message.format(index=1).startswith("Invalid 'known_speaker_references[1]': ")


@pytest.mark.parametrize("model", ["whisper-1", "gpt-4o-transcribe"])
def test_known_speakers_need_the_diarizing_model(api_a, nothing_stored, model):
    response = known(api_a, ["agent"], [reference("allison")], model=model, response_format="json")
    assert_error(
        response,
        400,
        code="unsupported_parameter",
        param="known_speaker_names",
        message=(
            "Unsupported parameter: 'known_speaker_names' is not supported with this model. "
            "Use 'gpt-4o-transcribe-diarize'."
        ),
    )
