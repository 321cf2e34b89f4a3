"""Every stretch of speech the VAD hears is in a job's transcript, once (speech/coverage.py,
running._every_stretch_heard): a file of one chunk whose window Whisper decodes with a turn
left out, answered in each format; and a clip Whisper hears whole, left as it decodes it."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import speech as engine
from speech import coverage
from tests.audio import JFK, encode, short_turns_samples, words
from tests.streams import streamed
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.inference]

# What each turn of short_turns_samples() says, in order (a phrase of each).
TURNS = (
    "and so my fellow americans",
    "congratulations",
    "ask not",
    "successfully installed and executed",
    "what your country can do for you",
    "help you get started",
    "ask what you can do for your country",
    "like a normal pbx",
)


def post_turns(api, **fields):
    upload = SimpleUploadedFile("turns.wav", encode(short_turns_samples()), "audio/wav")
    response = api.client.post(
        "/v1/audio/transcriptions",
        {"file": upload, "model": "tiny.en", **fields},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return response.json()


def assert_every_turn_once(text: str) -> None:
    said = " ".join(words(text))
    at = [said.find(turn) for turn in TURNS]
    assert all(position >= 0 for position in at), (text, dict(zip(TURNS, at, strict=True)))
    assert at == sorted(at), text
    assert all(said.count(turn) == 1 for turn in TURNS), text


def test_a_turn_whisper_leaves_out_of_a_window_is_in_the_transcript(api_a):
    """Two voices taking short turns in one 21 s window. tiny.en decodes Allison's first turn,
    "Congratulations!", but with word timestamps aligns its one word to no time at all, and
    faster-whisper drops a segment of no length (SYSTRAN/faster-whisper#280): the turn left
    out of every answer with words (and of every answer of a diarizing model). The job has
    it, in its place, once, in every format, words asked for or not."""
    worded = post_turns(
        api_a, response_format="verbose_json", **{"timestamp_granularities[]": ["word", "segment"]}
    )
    assert_every_turn_once(worded["text"])
    assert Job.objects.get().chunk_count == 1
    segments = worded["segments"]
    assert [s["id"] for s in segments] == list(range(len(segments)))
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    starts = [w["start"] for w in worded["words"]]
    assert starts == sorted(starts)
    assert coverage.speech_coverage(short_turns_samples(), worded["words"]) > 0.95

    body = post_turns(api_a, response_format="verbose_json")
    assert body["text"] == worded["text"]
    assert "words" not in body, "asked for no words, given none"
    assert post_turns(api_a, response_format="json")["text"] == worded["text"]


def test_a_clip_whisper_hears_whole_keeps_its_text_word_for_word(api_a):
    """jfk.flac: every stretch of its speech has words, so nothing is decoded again and the
    job's text is the engine's, with no word doubled."""
    with JFK.open("rb") as upload:
        response = api_a.client.post(
            "/v1/audio/transcriptions",
            {
                "file": upload,
                "model": "tiny.en",
                "response_format": "verbose_json",
                "timestamp_granularities[]": ["word", "segment"],
            },
            format="multipart",
        )
    body = response.json()
    bare = engine.transcribe(str(JFK), model_id="tiny.en", word_timestamps=True)
    assert body["text"] == bare.text
    assert body["words"] == bare.words
    assert len(body["segments"]) == len(bare.segments)


def test_a_stream_sends_every_turn_once_and_ends_with_them_in_order(api_a):
    """A stream's deltas go out as Whisper decodes its window; the turn decoded again after
    it goes out after them (a delta cannot be taken back), so the deltas carry every word
    once, and the `done` event has the turns in their order."""
    upload = SimpleUploadedFile("turns.wav", encode(short_turns_samples()), "audio/wav")
    response = api_a.client.post(
        "/v1/audio/transcriptions",
        {"file": upload, "model": "tiny.en", "stream": "true"},
        format="multipart",
    )
    events = [
        json.loads(line[6:])
        for line in streamed(response).decode().splitlines()
        if line.startswith("data: ")
    ]
    deltas, done = events[:-1], events[-1]
    assert all(e["type"] == "transcript.text.delta" for e in deltas)
    assert_every_turn_once(done["text"])
    sent = " ".join(words("".join(d["delta"] for d in deltas)))
    assert sorted(sent.split()) == sorted(words(done["text"])), (sent, done["text"])
