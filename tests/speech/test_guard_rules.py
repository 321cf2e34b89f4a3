"""The guards' rules on their own (speech/guards.py): what counts as a loop, as Whisper's fallback,
as outside the audio, and the seed. Their effect on real decodes is in test_guards.py."""

import numpy as np
import pytest

from speech import SAMPLE_RATE, guards
from tests.audio import JFK_TEXT

# Repetition loops as Whisper writes them when it loses the end of the audio.
SENTENCE_TWICE = (
    " Ask not what your country can do for you. Ask not what your country can do for you."
)
WORD_RUN = " and so my fellow Americans" + " ask not" * 6
SAME_WORD = " the" + " the" * 12 + " end."
# tiny.en on june.ogg's last 0.2 s (singing): a phrase of seven words, no sentence end, over and
# over. Only gzip found it, and the whole text was kept as its "first round".
LONG_PHRASE = " and I hope you enjoy this video," * 14


@pytest.mark.parametrize(
    ("text", "first_round"),
    [
        (SENTENCE_TWICE, " Ask not what your country can do for you."),
        (WORD_RUN, " and so my fellow Americans ask not"),
        (SAME_WORD, " the"),
        (LONG_PHRASE, " and I hope you enjoy this video,"),
    ],
)
def test_a_loop_is_found_and_its_first_round_kept(text, first_round):
    end = guards.loop_end(text)
    assert end is not None
    assert text[:end] == first_round


@pytest.mark.parametrize(
    "text",
    [
        " " + JFK_TEXT,
        " No, no, no, no.",  # a short repeat is speech
        " I'm sorry, I'm sorry, I'm sorry.",
        " Thank you. Thank you.",  # a sentence of two words, said twice
        " We choose to go to the moon. We choose to go to the moon in this decade.",
        "",
    ],
)
def test_speech_that_repeats_a_little_is_no_loop(text):
    assert guards.loop_end(text) is None


def test_a_long_loop_compresses_past_whispers_threshold():
    text = " I will be right back." * 12
    assert guards.compression_ratio(text) > guards.COMPRESSION_RATIO_THRESHOLD
    assert guards.compression_ratio(" " + JFK_TEXT) < guards.COMPRESSION_RATIO_THRESHOLD
    assert guards.loop_end(text) == len(" I will be right back.")


def test_a_segment_that_says_the_previous_one_again():
    assert guards.repeats_previous(" Ask not what you can do.", " ask not, what you can do")
    assert not guards.repeats_previous(" Thank you.", " Thank you.")  # too short to tell
    assert not guards.repeats_previous(" Ask not what you can do.", " Ask what you can do.")


def segment(**values):
    return {"avg_logprob": -0.3, "compression_ratio": 1.4, "no_speech_prob": 0.01, **values}


def test_whispers_fallback_rule():
    assert not guards.falls_back(segment())
    assert guards.falls_back(segment(compression_ratio=2.5))
    assert guards.falls_back(segment(avg_logprob=-1.2))
    # Silence: Whisper keeps its temperature-0 decode (and skips the window).
    assert not guards.falls_back(segment(avg_logprob=-1.2, no_speech_prob=0.7))
    assert guards.falls_back(segment(compression_ratio=2.5, no_speech_prob=0.7))


def test_the_seed_follows_the_audio_and_the_options():
    samples = np.linspace(-1, 1, SAMPLE_RATE, dtype=np.float32)
    seed = guards.seed_for(samples, model_id="tiny.en", temperature=[1.0])
    assert seed == guards.seed_for(samples.copy(), model_id="tiny.en", temperature=[1.0])
    assert seed != guards.seed_for(samples, model_id="tiny.en", temperature=[0.8])
    assert seed != guards.seed_for(samples[::-1], model_id="tiny.en", temperature=[1.0])
    assert 0 <= seed < 2**32 - 1  # 2**32 - 1 is CTranslate2's "no seed"


def piece(start, end, text=" Hello there my friend.", words=()):
    item = {"id": 0, "seek": 0, "start": start, "end": end, "text": text, "tokens": []}
    return guards.Piece(segment=item, words=list(words))


def no_retake(start, end):
    raise AssertionError("nothing here loops")


def test_nothing_ends_after_the_audio():
    guard = guards.Guard(
        np.zeros(4 * SAMPLE_RATE, dtype=np.float32), retake=no_retake, tokenizer=None, eot=0
    )
    words = [
        {"word": "Hello", "start": 3.0, "end": 3.5},
        {"word": "there", "start": 3.6, "end": 4.4},
        {"word": "friend.", "start": 4.5, "end": 5.0},
    ]
    clipped = guard.inside(piece(3.0, 6.0, words=words))
    assert clipped.segment["end"] == 4.0
    assert clipped.words == [words[0], {**words[1], "end": 4.0}]
    assert guard.inside(piece(4.0, 7.0)) is None  # starts where the audio ends
    kept = piece(1.0, 2.0)
    assert guard.inside(kept) is kept


def test_asking_for_word_times_does_not_change_the_seed():
    samples = np.ones(SAMPLE_RATE, dtype=np.float32)
    assert guards.seed_for(samples, word_timestamps=True, beam_size=5) == guards.seed_for(
        samples, word_timestamps=False, beam_size=5
    )
