"""A live turn's transcript starts with what its deltas sent (services.transcript_join), and a
preview's words are candidates only once the turn was heard well past them, or a little past
for a word Whisper is fairly sure of (preview_decoding.settled_text)."""

import pytest

from live.services.preview_decoding import (
    SETTLED_SECONDS,
    SURE_PROBABILITY,
    SURE_SECONDS,
    settled_text,
)
from live.services.transcript_join import sent_words_end, transcript_after


@pytest.mark.parametrize(
    "sent, text, transcript",
    [
        ("", "And so, my fellow Americans.", "And so, my fellow Americans."),
        ("And so,", "And so, my fellow Americans.", "And so, my fellow Americans."),
        # A misheard word stays (it was sent); the decode's words after it follow.
        (
            "Our servants transcribe",
            "Our servers transcribe customer calls.",
            "Our servants transcribe customer calls.",
        ),
        # One word heard as two: the decode's next word is kept, none is lost.
        ("And so am I", "And so, my fellow Americans.", "And so am I fellow Americans."),
        # Every word of the decode stood for by the sent ones: nothing follows them.
        (
            "Our servants transcribe custom accolades",
            "Our servers transcribe customer calls.",
            "Our servants transcribe custom accolades",
        ),
        ("ask not what", "ask not", "ask not what"),
        ("ask not", "", "ask not"),
        # A word the decode left out does not take the next one's place...
        (
            "ask not what your",
            "Ask not what country can do",
            "ask not what your country can do",
        ),
        # ... and one it heard otherwise takes its own.
        (
            "ask not what your",
            "Ask not what you country can do",
            "ask not what your country can do",
        ),
    ],
)
def test_the_transcript_starts_with_the_deltas_and_goes_on_with_the_decode(sent, text, transcript):
    joined = transcript_after(sent, text)
    assert joined == transcript
    assert joined.startswith(sent)


def test_sent_words_stand_for_the_decodes_words_of_the_same_letters():
    decoded = "Our servers transcribe customer calls"
    assert sent_words_end("Our servants transcribe custom", decoded) == 4
    assert sent_words_end("Our servants", decoded) == 2
    assert sent_words_end("", decoded) == 0
    assert sent_words_end("Our servers", "") == 0


def words(*timed):
    return [{"word": word, "start": end - 0.3, "end": end} for word, end in timed]


def test_a_previews_words_count_once_the_turn_went_on_past_them():
    text = "And so, my fellow Americans,"
    timed = words(("And", 0.5), ("so,", 0.9), ("my", 1.3), ("fellow", 1.8), ("Americans,", 2.4))
    assert settled_text(text, timed, seconds=1.5 + SETTLED_SECONDS) == "And so, my"
    assert settled_text(text, timed, seconds=0.4 + SETTLED_SECONDS) == ""
    assert settled_text(text, timed, seconds=10.0) == text
    # Words that are not the text's (in order) end it where they stop matching.
    assert settled_text(text, words(("And", 0.5), ("no", 0.9), ("my", 1.3)), seconds=10.0) == "And"


def test_a_word_whisper_is_fairly_sure_of_counts_sooner():
    """jfk.flac's previews: "And" (0.45-0.63) and "so" count SURE_SECONDS after they end; a
    guess such as "am" for "my" (0.18-0.34) waits SETTLED_SECONDS, and so does every word
    after it, however sure."""
    sure, unsure = SURE_PROBABILITY, SURE_PROBABILITY - 0.01
    text = "And so am I fellow"
    timed = words(("And", 0.5), ("so", 0.9), ("am", 1.2), ("I", 1.4), ("fellow", 1.8))
    for word, probability in zip(timed, (sure, 0.9, unsure, 0.9, 0.9), strict=True):
        word["probability"] = probability
    assert settled_text(text, timed, seconds=1.0 + SURE_SECONDS) == "And so"
    assert settled_text(text, timed, seconds=0.85 + SURE_SECONDS) == "And"
    assert settled_text(text, timed, seconds=0.45 + SURE_SECONDS) == ""
    assert settled_text(text, timed, seconds=1.9 + SURE_SECONDS) == "And so"
    assert settled_text(text, timed, seconds=1.15 + SETTLED_SECONDS) == "And so"
    # Once the guess has waited its second, the sure words after it count as theirs do.
    assert settled_text(text, timed, seconds=1.25 + SETTLED_SECONDS) == text
