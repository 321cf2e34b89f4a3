"""speaker_time_accuracy: the share of the reference's speech time given to the right speaker,
under the mapping of labels to speakers that gives the most time right."""

import pytest

from speech.diarization import SpeakerTurn
from speech.scoring import speaker_time_accuracy

REFERENCE = [(0.0, 4.0, "ann"), (4.0, 6.0, "bob"), (6.0, 10.0, "ann")]


def test_labels_are_mapped_to_speakers_whatever_their_names():
    exact = [(0.0, 4.0, "B"), (4.0, 6.0, "A"), (6.0, 10.0, "B")]
    assert speaker_time_accuracy(REFERENCE, exact) == 1.0


def test_time_given_to_another_speaker_or_to_nobody_is_wrong():
    # Bob's 2 s given to Ann's label, and 1 s of Ann's left out: 7 of 10 s right.
    hypothesis = [(0.0, 6.0, "A"), (7.0, 10.0, "A")]
    assert speaker_time_accuracy(REFERENCE, hypothesis) == pytest.approx(0.7)
    assert speaker_time_accuracy(REFERENCE, []) == 0.0


def test_one_label_per_speaker():
    """A third label for one of Ann's turns is mapped to no one: its 4 s are wrong."""
    hypothesis = [(0.0, 4.0, "A"), (4.0, 6.0, "B"), (6.0, 10.0, "C")]
    assert speaker_time_accuracy(REFERENCE, hypothesis) == pytest.approx(0.6)


def test_segments_as_mappings_or_turns_and_overlaps_counted_once():
    segments = [
        {"start": 0.0, "end": 4.0, "speaker": "A"},
        {"start": 2.0, "end": 4.0, "speaker": "A"},
        {"start": 4.0, "end": 6.0, "speaker": "B"},
    ]
    assert speaker_time_accuracy(REFERENCE, segments) == pytest.approx(0.6)
    turns = [SpeakerTurn(0.0, 4.0, "A"), SpeakerTurn(4.0, 6.0, "B")]
    assert speaker_time_accuracy(REFERENCE, turns) == pytest.approx(0.6)


def test_a_reference_without_speech_is_refused():
    with pytest.raises(ValueError, match="no speech"):
        speaker_time_accuracy([(1.0, 1.0, "ann")], [(0.0, 2.0, "A")])
