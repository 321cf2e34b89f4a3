"""The diarization harness's mixes (tools/speaker_mixes.py), without diarizing them: the same for
a seed, the voices' clips of 0.8-5 s where the truth says, 2, 3 and 4 voices in turn, their
levels within 10 dB, the gaps and the rare short speaker as stated."""

import itertools

import numpy as np
import pytest

from tools import speaker_mixes as sm
from tools.conversations import LEVEL_DBFS, speech_level

MIXES = 30
SR = sm.SAMPLE_RATE
VOICES = ["allison", "cards", "forever", "goforward", "hotwords", "jfk", "june", "librivox", "mit"]
PARTS = ["mit/de", "mit/en"]


@pytest.fixture(scope="module")
def pool():
    return sm.voices()


@pytest.fixture(scope="module")
def mixes(pool):
    return [sm.make_mix(index, 1, pool) for index in range(MIXES)]


def _sample(seconds: float) -> int:
    return round(seconds * SR)


def test_every_voice_has_clips_of_the_stated_length_at_the_common_level(pool):
    assert sorted(pool) == sorted(set(VOICES) - {"mit"} | set(PARTS))
    assert sm.people(pool) == VOICES
    for voice, clips in pool.items():
        assert clips, voice
        for clip in clips:
            assert sm.MIN_CLIP * SR <= len(clip) <= sm.MAX_CLIP * SR
            assert speech_level(clip) == pytest.approx(LEVEL_DBFS, abs=0.01)
    # The voices with more than one recording have many clips.
    assert len(pool["allison"]) >= 15 and len(pool["mit/en"]) >= 8 and len(pool["mit/de"]) >= 8


def test_a_turn_overlapped_by_another_keeps_only_its_clean_stretch():
    turns = [
        {"speaker": "a", "source": "1", "start": 0.6, "end": 3.0},
        {"speaker": "b", "source": "2", "start": 2.6, "end": 4.0},
        {"speaker": "a", "source": "3", "start": 4.5, "end": 6.0},
    ]

    assert sm._clean_spans(turns) == [
        ("a", "1", 0.6, 2.6),
        ("b", "2", 3.0, 4.0),
        ("a", "3", 4.5, 6.0),
    ]


def test_a_long_utterance_is_cut_into_pieces_of_one_to_five_seconds_at_its_quietest():
    t = np.arange(_sample(12.0)) / SR
    samples = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    samples[_sample(7.0) : _sample(7.1)] = 0.0  # a quiet 100 ms

    pieces = sm._split(samples)

    assert sum(len(p) for p in pieces) == len(samples)
    assert all(sm.MIN_PIECE * SR <= len(p) <= sm.MAX_CLIP * SR for p in pieces)
    cuts = np.cumsum([len(p) for p in pieces])[:-1]
    assert np.any(np.abs(cuts - _sample(7.05)) <= _sample(0.05))  # in the quiet 100 ms


def test_the_same_seed_gives_the_same_mixes_and_another_seed_others(pool, mixes):
    again = [sm.make_mix(index, 1, pool) for index in (0, 7, MIXES - 1)]
    for (mix, samples), index in zip(again, (0, 7, MIXES - 1), strict=True):
        assert mix == mixes[index][0]
        assert np.array_equal(samples, mixes[index][1])
    held_out = [sm.make_mix(index, 1 + sm.HOLD_OUT, pool)[0] for index in range(5)]
    assert all(other.turns != mix.turns for other, (mix, _) in zip(held_out, mixes, strict=False))


def test_the_voice_counts_cycle_and_every_voice_speaks_from_one_part(mixes):
    for index, (mix, _) in enumerate(mixes):
        assert len(mix.voices) == sm.VOICE_COUNTS[index % 3]
        assert {voice for voice, _, _ in mix.turns} == set(mix.voices)
        assert {part.split("/")[0] for part in mix.parts.values()} == set(mix.voices)
    # English and German: the mixes with the reader take one or the other.
    assert {mix.parts["mit"] for mix, _ in mixes if "mit" in mix.voices} == set(PARTS)


def test_turns_are_whole_clips_each_used_once_with_the_stated_gaps(pool, mixes):
    switches = same = 0
    for mix, samples in mixes:
        assert sm.TURNS[0] <= len(mix.turns) <= sm.TURNS[1]
        assert len(set(zip((v for v, _, _ in mix.turns), mix.clips, strict=True))) == len(mix.turns)
        for (voice, start, end), clip in zip(mix.turns, mix.clips, strict=True):
            assert sm.MIN_CLIP <= end - start <= sm.MAX_CLIP
            assert _sample(end) - _sample(start) == len(pool[mix.parts[voice]][clip])
        assert mix.turns[0][1] == pytest.approx(sm.LEAD, abs=1e-4)
        assert mix.seconds - max(end for _, _, end in mix.turns) == pytest.approx(sm.LEAD, abs=1e-3)
        assert len(samples) == _sample(mix.seconds)
        for (v1, _, end), (v2, start, _) in itertools.pairwise(mix.turns):
            low = sm.SAME_SPEAKER_GAP if v1 == v2 else sm.GAPS[0]
            assert low - 1e-3 <= start - end <= sm.GAPS[1] + 1e-3
            switches += v1 != v2
            same += v1 == v2
    assert switches > 2 * same  # mostly another speaker
    overlaps = sum(
        1
        for mix, _ in mixes
        for (_, _, end), (_, start, _) in itertools.pairwise(mix.turns)
        if start < end
    )
    assert overlaps >= MIXES  # one or more a mix, on average


def test_the_truth_is_where_the_voices_are(mixes):
    for mix, samples in mixes:
        inside = np.zeros(len(samples), dtype=bool)
        for voice, start, end in mix.turns:
            inside[_sample(start) : _sample(end)] = True
            # trim() keeps 50 ms of padding: the voice is loud within 0.15 s of each edge.
            first, last = _sample(start), _sample(end)
            for edge in (slice(first, first + _sample(0.15)), slice(last - _sample(0.15), last)):
                level = 10 * np.log10(np.mean(samples[edge].astype(np.float64) ** 2) + 1e-12)
                assert level > LEVEL_DBFS + mix.gains[voice] - 35.0, (mix.index, voice, start)
        assert not np.any(samples[~inside])  # digital silence around the turns


def test_the_voices_levels_lie_within_ten_db(mixes):
    widest = 0.0
    for mix, samples in mixes:
        gains = mix.gains.values()
        assert max(gains) - min(gains) <= sm.SPREAD_DB
        widest = max(widest, max(gains) - min(gains))
        measured: dict[str, list[float]] = {}
        spans = [(_sample(s), _sample(e)) for _, s, e in mix.turns]
        for index, (voice, _, _) in enumerate(mix.turns):
            first, last = spans[index]
            if any(s < last and first < e for j, (s, e) in enumerate(spans) if j != index):
                continue  # overlapped: two voices
            measured.setdefault(voice, []).append(speech_level(samples[first:last]))
            assert measured[voice][-1] == pytest.approx(
                LEVEL_DBFS + mix.gains[voice], abs=0.3
            )  # clipping aside, the level set
        levels = [np.mean(values) for values in measured.values()]
        assert max(levels) - min(levels) <= sm.SPREAD_DB + 0.3
    assert widest > 7.0  # the spread is used, not only a few dB


def test_about_a_third_of_the_mixes_have_one_speaker_with_a_single_short_turn(mixes):
    rare = [mix for mix, _ in mixes if mix.rare]
    assert MIXES / 6 <= len(rare) <= MIXES / 2
    for mix in rare:
        theirs = [(s, e) for voice, s, e in mix.turns if voice == mix.rare]
        assert len(theirs) == 1 and theirs[0][1] - theirs[0][0] < sm.SHORT_TURN


def test_the_voices_can_be_restricted(pool):
    chosen = sm.select("jfk,june,mit")

    assert sorted(chosen) == ["jfk", "june", *PARTS]
    made = [sm.make_mix(index, 5, chosen)[0] for index in range(4)]
    assert [len(mix.voices) for mix in made] == [2, 3, 2, 3]
    assert all(set(mix.voices) <= {"jfk", "june", "mit"} for mix in made)
    with pytest.raises(SystemExit):
        sm.select("jfk,nobody")
