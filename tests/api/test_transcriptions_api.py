"""/v1/audio/transcriptions and /translations through the test client, with real inference.

The django-q2 task runs in-process here (Q_CLUSTER sync); tests/e2e drive real workers.
"""

import json
import logging
import re

import pytest

from tests.audio import HOTWORDS, JFK, JFK_TEXT, german_sentence_wav, german_wav, words
from tests.streams import streamed
from transcriptions.models import Job

# The subject is what the platform makes of real output: identical real decodes run once per
# session (`shared_decode`, docs/tests.md).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shared_decode")]

SRT_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})$")
VTT_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2}):(\d{2}):(\d{2})\.(\d{3})$")


def post(api, path="/v1/audio/transcriptions", *, audio=JFK, name=None, **fields):
    with open(audio, "rb") if not isinstance(audio, bytes) else _bytes(audio, name) as fh:
        if name and not isinstance(audio, bytes):
            fh.name = name
        data = {"file": fh, "model": "tiny.en", **fields}
        return api.client.post(path, data, format="multipart")


def _bytes(blob: bytes, name: str | None):
    import io

    fh = io.BytesIO(blob)
    fh.name = name or "audio.wav"
    return fh


def seconds(parts) -> float:
    h, m, s, ms = (int(p) for p in parts)
    return h * 3600 + m * 60 + s + ms / 1000


def assert_jfk(text: str) -> None:
    got = words(text)
    expected = words(JFK_TEXT)
    assert got[:4] == ["and", "so", "my", "fellow"]
    assert got == expected


@pytest.mark.inference
def test_json_is_text_and_usage_in_whole_seconds(api_a):
    response = post(api_a)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"text", "usage"}
    assert_jfk(body["text"])
    assert body["usage"] == {"type": "duration", "seconds": 11}
    assert response["x-request-id"].startswith("req_")
    assert int(response["openai-processing-ms"]) > 0
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED
    assert job.tenant == api_a.tenant and job.api_key == api_a.api_key
    assert job.request_id == response["x-request-id"]
    assert not job.audio, "uploaded audio is deleted once processed"


@pytest.mark.inference
def test_text_format_is_plain_text(api_a):
    response = post(api_a, response_format="text")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert body.endswith("\n") and not body.startswith("{")
    assert_jfk(body)


@pytest.mark.inference
def test_srt_has_numbered_blocks_with_valid_increasing_times(api_a):
    response = post(api_a, response_format="srt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    blocks = response.content.decode().strip().split("\n\n")
    assert blocks
    previous_end = 0.0
    texts = []
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(number)
        match = SRT_TIME.match(lines[1])
        assert match, lines[1]
        start, end = seconds(match.groups()[:4]), seconds(match.groups()[4:])
        assert previous_end <= start < end <= 11.0
        previous_end = end
        texts.append(" ".join(lines[2:]))
    assert_jfk(" ".join(texts))


@pytest.mark.inference
def test_vtt_has_header_and_valid_times(api_a):
    response = post(api_a, response_format="vtt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/vtt")
    content = response.content.decode()
    assert content.startswith("WEBVTT\n\n")
    cues = content[len("WEBVTT\n\n") :].strip().split("\n\n")
    texts = []
    previous_end = 0.0
    for cue in cues:
        lines = cue.split("\n")
        match = VTT_TIME.match(lines[0])
        assert match, lines[0]
        start, end = seconds(match.groups()[:4]), seconds(match.groups()[4:])
        assert previous_end <= start < end <= 11.0
        previous_end = end
        texts.append(" ".join(lines[1:]))
    assert_jfk(" ".join(texts))


@pytest.mark.inference
def test_verbose_json_has_openai_segment_fields_and_words(api_a):
    response = post(
        api_a,
        response_format="verbose_json",
        **{"timestamp_granularities[]": ["word", "segment"]},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["task"] == "transcribe"
    assert body["language"] == "english"
    assert body["duration"] == pytest.approx(11.0, abs=0.05)
    assert_jfk(body["text"])
    assert body["usage"] == {"type": "duration", "seconds": 11}
    segment_fields = {
        "id", "seek", "start", "end", "text", "tokens", "temperature",
        "avg_logprob", "compression_ratio", "no_speech_prob",
    }  # fmt: skip
    previous_end = 0.0
    for index, segment in enumerate(body["segments"]):
        assert set(segment) == segment_fields
        assert segment["id"] == index
        assert previous_end <= segment["start"] < segment["end"] <= body["duration"]
        assert segment["tokens"] and all(isinstance(t, int) for t in segment["tokens"])
        assert segment["temperature"] == 0.0
        previous_end = segment["end"]
    assert [w["word"] for w in body["words"]][:4] == ["And", "so,", "my", "fellow"]
    previous_start = 0.0
    for word in body["words"]:
        assert set(word) == {"word", "start", "end"}
        assert previous_start <= word["start"] <= word["end"] <= body["duration"]
        previous_start = word["start"]
    assert_jfk(" ".join(w["word"] for w in body["words"]))


@pytest.mark.inference
def test_verbose_json_without_granularities_has_segments_but_no_words(api_a):
    body = post(api_a, response_format="verbose_json").json()
    assert body["segments"] and "words" not in body


@pytest.mark.inference
def test_prompt_guides_vocabulary(api_a):
    # whisper-1 (base): tiny.en spells it "comfyUI" with the prompt on some CPUs.
    plain = post(api_a, audio=HOTWORDS, model="whisper-1").json()["text"]
    prompted = post(api_a, audio=HOTWORDS, model="whisper-1", prompt="ComfyUI").json()["text"]
    assert "ComfyUI" not in plain
    assert "ComfyUI" in prompted


# A translation's coverage is measured by its segments (speech.coverage.marks): its English
# words' times say nothing of where the German speech is, and measured by them every gap
# between two words was "left out" and decoded again, most of the test's time. The last
# window is sampled (seeded), and what that covers depends on the CPU's int8 kernels: on an
# AVX2 machine all of it, on an AVX-512 one it ends 1.6 s early and that stretch is decoded
# again. So: at most that one stretch, and the translation reaches the speech's end.
@pytest.mark.inference
def test_translation_turns_german_speech_into_english(api_a, caplog):
    caplog.set_level(logging.INFO, logger="transcriptions.services.running")
    response = post(
        api_a,
        "/v1/audio/translations",
        audio=german_wav(),
        name="german.wav",
        model="whisper-1",
        response_format="verbose_json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["task"] == "translate"
    text = words(body["text"])
    assert "software" in text
    assert {"the", "and"} <= set(text)
    assert not {"und", "die", "der", "zu"} & set(text)
    assert len([r for r in caplog.records if "left out" in r.getMessage()]) <= 1
    assert body["segments"][-1]["end"] >= 28.0, "the translation stops short of the speech"


@pytest.mark.inference
def test_language_is_honoured(api_a):
    german = post(
        api_a,
        audio=german_sentence_wav(),
        name="german.wav",
        model="whisper-1",
        language="de",
        response_format="verbose_json",
    ).json()
    assert german["language"] == "german"
    assert {"und", "die", "software"} <= set(words(german["text"]))


@pytest.mark.inference
def test_streaming_sends_deltas_then_done_with_usage(api_a):
    response = post(api_a, stream="true")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = [
        json.loads(line[len("data: ") :])
        for line in streamed(response).decode().splitlines()
        if line.startswith("data: ")
    ]
    deltas = [e for e in events if e["type"] == "transcript.text.delta"]
    assert deltas and events[-1]["type"] == "transcript.text.done"
    assert_jfk("".join(d["delta"] for d in deltas))
    assert_jfk(events[-1]["text"])
    assert events[-1]["usage"] == {"type": "duration", "seconds": 11}


def test_models_list_and_detail(api_a):
    listing = api_a.client.get("/v1/models")
    assert listing.status_code == 200
    body = listing.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == [
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-4o-transcribe-diarize",
        "tiny.en",
        "base",
    ]
    for model in body["data"]:
        assert set(model) == {"id", "object", "created", "owned_by"}
        assert model["object"] == "model"
    detail = api_a.client.get("/v1/models/whisper-1")
    assert detail.status_code == 200 and detail.json()["id"] == "whisper-1"
