"""gpt-4o-transcribe-diarize and `response_format=diarized_json` (openai-python
`TranscriptionDiarized`) through the API, with real inference (django-q2 runs jobs inline in
tests) on a conversation of two real voices: speakers "A" and "B" by first appearance, the
right one on each clip's segments, letters that agree across the chunks of a long file, and
every refusal an exact OpenAI-shaped error that leaves nothing behind (known speakers:
test_diarized_known_speakers.py; the conversation and its checks: diarized.py)."""

import json
import re

import httpx
import pytest
from openai import OpenAI
from openai.types.audio import TranscriptionDiarized

from api.serializers import messages
from tests.api.diarized import (
    DIARIZE,
    assert_diarized,
    conversation,
    post,
    reference,
)
from tests.audio import JFK
from tests.conftest import assert_error
from tests.streams import streamed
from transcriptions.models import Job

# The subject is what the platform makes of real output: identical real decodes run once per
# session (`shared_decode`, docs/tests.md).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shared_decode")]


@pytest.mark.inference
def test_diarized_json(api_a):
    response = post(api_a, response_format="diarized_json")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/json"
    assert_diarized(response.json())


@pytest.mark.inference
def test_speakers_agree_across_chunks(api_a, settings):
    """A file cut into several chunks is diarized whole once they are merged."""
    settings.CHUNK_MAX_SECONDS = 12.0
    response = post(api_a, response_format="diarized_json")
    assert response.status_code == 200, response.content[:500]
    assert Job.objects.get().chunk_count > 1
    assert_diarized(response.json())


@pytest.mark.inference
def test_async_job_result_carries_speakers(api_a):
    response = post(api_a, "/v1/audio/jobs", response_format="diarized_json")
    assert response.status_code == 202, response.content[:500]
    job = api_a.client.get(f"/v1/audio/jobs/{response.json()['id']}").json()
    assert job["status"] == "succeeded", job
    assert_diarized(job["result"])


@pytest.mark.inference
def test_json_and_text_without_speakers(api_a):
    body = post(api_a).json()
    assert set(body) == {"text", "usage"}
    response = post(api_a, response_format="text")
    assert "my fellow Americans" in response.content.decode()


def test_listed_by_models(api_a):
    ids = [model["id"] for model in api_a.client.get("/v1/models").json()["data"]]
    assert DIARIZE in ids


@pytest.mark.parametrize("response_format", ["srt", "verbose_json", "vtt"])
def test_formats_the_diarizing_model_refuses(api_a, nothing_stored, response_format):
    response = post(api_a, audio=JFK.read_bytes(), response_format=response_format)
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="response_format",
        message=(
            f"response_format '{response_format}' is not compatible with model "
            f"'{DIARIZE}'. Use 'json', 'text', or 'diarized_json' instead."
        ),
    )


@pytest.mark.parametrize(
    ("model", "formats"),
    [
        ("whisper-1", "'json', 'text', 'srt', 'verbose_json', or 'vtt'"),
        ("gpt-4o-transcribe", "'json' or 'text'"),
    ],
)
def test_diarized_json_needs_the_diarizing_model(api_a, nothing_stored, model, formats):
    response = post(api_a, audio=JFK.read_bytes(), model=model, response_format="diarized_json")
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="response_format",
        message=messages.MSG_MODEL_FORMATS.format(
            value="diarized_json", model=model, formats=formats
        ),
    )
    assert messages.MSG_MODEL_FORMATS.format(
        value="diarized_json", model=model, formats=formats
    ) == (
        f"response_format 'diarized_json' is not compatible with model '{model}'. "
        f"Use {formats} instead."
    )


def test_logprobs_refused(api_a, nothing_stored):
    response = post(api_a, audio=JFK.read_bytes(), **{"include[]": ["logprobs"]})
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="include",
        message=messages.MSG_LOGPROBS_MODEL,
    )


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/audio/jobs"])
def test_prompt_refused(api_a, nothing_stored, path):
    response = post(api_a, path, audio=JFK.read_bytes(), prompt="ComfyUI")
    assert_error(
        response,
        400,
        code="unsupported_parameter",
        param="prompt",
        message="Unsupported parameter: 'prompt' is not supported with this model.",
    )


# --- Streaming --------------------------------------------------------------------------------


def sse(response) -> list[dict]:
    text = streamed(response).decode()
    return [
        json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")
    ]


@pytest.mark.inference
def test_stream_sends_segment_events_before_done(api_a):
    response = post(api_a, response_format="diarized_json", stream="true")
    assert response.status_code == 200
    events = sse(response)
    types = [event["type"] for event in events]
    assert types[-1] == "transcript.text.done"
    segments = [event for event in events if event["type"] == "transcript.text.segment"]
    assert segments and types.index("transcript.text.segment") > max(
        i for i, t in enumerate(types) if t == "transcript.text.delta"
    )
    assert types[-1 - len(segments) : -1] == ["transcript.text.segment"] * len(segments)
    deltas = "".join(e["delta"] for e in events if e["type"] == "transcript.text.delta")
    assert deltas.strip() == events[-1]["text"]
    assert_diarized(
        {
            "task": "transcribe",
            "duration": Job.objects.get().duration,
            "text": events[-1]["text"],
            "segments": segments,
            "usage": events[-1]["usage"],
        }
    )


@pytest.mark.inference
def test_json_stream_has_no_segment_events(api_a):
    events = sse(post(api_a, stream="true"))
    assert "transcript.text.segment" not in {event["type"] for event in events}
    assert events[-1]["type"] == "transcript.text.done"


# --- Subtitles and the dashboard --------------------------------------------------------------


@pytest.mark.inference
def test_subtitles_and_the_transcript_page_say_who_speaks(api_a, alice):
    from django.test import Client

    response = post(api_a, response_format="diarized_json")
    assert response.status_code == 200
    body = response.json()
    job = Job.objects.get()
    browser = Client()
    browser.force_login(alice)
    srt = browser.get(f"/transcripts/{job.public_id}/download.srt").content.decode()
    cues = srt.strip().split("\n\n")
    assert len(cues) == len(body["segments"])
    for cue, segment in zip(cues, body["segments"], strict=True):
        assert cue.splitlines()[2] == f"{segment['speaker']}: {segment['text']}"
    vtt = browser.get(f"/transcripts/{job.public_id}/download.vtt").content.decode()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert f"\nA: {body['segments'][0]['text']}\n" in vtt
    assert json.loads(browser.get(f"/transcripts/{job.public_id}/download.json").content) == body
    html = browser.get(f"/transcripts/{job.public_id}/").content.decode()
    assert "<th>Speaker</th>" in html
    # Each speaker in its own colour, given by first appearance: A the first colour, B the next.
    cells = re.findall(
        r'<td class="speaker"><span class="speaker-tag speaker-(\d)">(\w+)</span>', html
    )
    assert [speaker for _, speaker in cells] == [s["speaker"] for s in body["segments"]]
    colours = {speaker: int(colour) for colour, speaker in cells}
    assert len(colours) == len(set(colours.values())) >= 2
    assert colours["A"] == 0 and colours["B"] == 1


def test_subtitles_without_speakers_are_unchanged(api_a):
    from transcriptions.openai.formats import render

    result = {"segments": [{"start": 0.0, "end": 1.5, "text": " Hello."}]}
    assert (
        render(result, response_format="srt")[0] == "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n"
    )
    assert (
        render(result, response_format="vtt")[0]
        == "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello.\n\n"
    )


# --- The official openai SDK ------------------------------------------------------------------


def sdk_client(api) -> OpenAI:
    """The unmodified openai client, its requests answered by this server (the Django test
    client) through an httpx transport."""

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        response = api.client.generic(
            "POST",
            request.url.path,
            request.content,
            content_type=request.headers["content-type"],
            HTTP_AUTHORIZATION=f"Bearer {api.key}",
        )
        content = streamed(response) if response.streaming else response.content
        return httpx.Response(
            response.status_code,
            headers={"content-type": response["Content-Type"]},
            content=content,
        )

    return OpenAI(
        api_key=api.key,
        base_url="http://sdk.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


@pytest.mark.inference
def test_the_sdk_parses_diarized_json_and_sends_known_speakers(api_a, tmp_path):
    path = tmp_path / "conversation.wav"
    path.write_bytes(conversation()[0])
    with path.open("rb") as fh:
        result = sdk_client(api_a).audio.transcriptions.create(
            model=DIARIZE,
            file=fh,
            response_format="diarized_json",
            known_speaker_names=["agent"],
            known_speaker_references=[reference("allison")],
        )
    assert isinstance(result, TranscriptionDiarized)
    assert result.usage.type == "duration"
    assert_diarized(result.model_dump(exclude_none=True), names={"jfk": "A", "allison": "agent"})


@pytest.mark.inference
def test_the_sdk_streams_segment_events(api_a, tmp_path):
    path = tmp_path / "conversation.wav"
    path.write_bytes(conversation()[0])
    with path.open("rb") as fh:
        stream = sdk_client(api_a).audio.transcriptions.create(
            model=DIARIZE, file=fh, response_format="diarized_json", stream=True
        )
        events = list(stream)
    segments = [e for e in events if e.type == "transcript.text.segment"]
    assert segments and events[-1].type == "transcript.text.done"
    assert segments[0].speaker == "A"
    assert {e.speaker for e in segments} == {"A", "B"}


def test_what_the_diarizing_id_runs_on_is_set_by_the_environment(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {
        **os.environ,
        "PLATFORM_VAR_DIR": str(tmp_path),
        "WHISPER_GPT_4O_TRANSCRIBE_DIARIZE_MODEL": "tiny.en",
    }
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.WHISPER_MODEL_ALIASES))"
    )
    done = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "shell", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    aliases = json.loads(done.stdout.strip().splitlines()[-1])
    assert aliases[DIARIZE] == "tiny.en"
    assert aliases["gpt-4o-transcribe"] == "base"


def test_translations_keep_openais_five_formats(api_a, nothing_stored):
    response = post(
        api_a, "/v1/audio/translations", audio=JFK.read_bytes(), response_format="diarized_json"
    )
    assert_error(
        response,
        400,
        code="unsupported_value",
        param="response_format",
        message=messages.MSG_FORMAT.format(value="diarized_json"),
    )
