"""A diarized transcript's segments span their speaker's voice: a segment's times are its first
and last words', which Whisper's cross-attention puts inside the voice (and a word Whisper left
out lies outside them), so each is widened to the turn of its speaker that holds it, never over
a neighbouring segment (speech.diarization.spans_widened, applied by speakers_label)."""

import itertools

import pytest

import speech as engine
from speech.diarization import SpeakerTurn, spans_widened
from speech.scoring import speaker_time_match
from tools import conversations
from transcriptions.models import Job
from transcriptions.services.speakers import speakers_label


def test_spans_reach_their_turns_edges_but_never_a_neighbour():
    turns = [SpeakerTurn(0.5, 4.0, "A"), SpeakerTurn(4.3, 7.0, "B"), SpeakerTurn(7.2, 9.0, "A")]
    spans = [
        (0.8, 2.0, "A"),  # to the turn's start; its end to the next span's start
        (2.4, 3.6, "A"),  # to the turn's end
        (4.6, 6.0, "B"),  # both edges to B's turn
        (6.1, 6.9, "A"),  # in no turn of A: as it is
        (7.4, 8.0, "A"),  # its start to the previous span's end at most, its end to 9.0
    ]
    assert spans_widened(spans, turns) == [
        (0.5, 2.4),
        (2.4, 4.0),
        (4.3, 6.1),
        (6.1, 6.9),
        (7.2, 9.0),
    ]
    assert spans_widened([], turns) == []


@pytest.mark.inference
def test_a_diarized_transcript_gives_its_speakers_their_speech_time():
    """two-voices (the accuracy benchmark's: Allison and a voice 10 dB under hers, turns of
    1.2-2.5 s): over 90 % of the speech time in a segment of the right speaker. With each
    segment only as long as its words, 79 %."""
    from faster_whisper.audio import decode_audio

    path, truth = next((p, t) for p, t in conversations.load() if t["name"] == "two-voices")
    samples = decode_audio(str(path), sampling_rate=conversations.SAMPLE_RATE)
    result = engine.transcribe(samples, model_id="base", word_timestamps=True)
    words = [(w["start"], w["end"]) for w in result.words]
    job = Job(known_speakers=None, timestamp_granularities=["word", "segment"])

    speakers_label(job, result, samples=samples)

    segments = result.segments
    reference = [(t["start"], t["end"], t["speaker"]) for t in truth["turns"]]
    match = speaker_time_match(reference, segments, overlaps="once")
    assert match.share >= 0.9
    assert sorted(v for v in match.mapping.values() if v) == ["allison", "cards"]
    # Widened, never shrunk or overlapping: every word still lies in a segment.
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(segments))
    for start, end in words:
        middle = (start + end) / 2
        assert any(s["start"] <= middle <= s["end"] for s in segments)
