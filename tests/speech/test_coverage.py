"""The speech the transcript's words cover (speech/coverage.py), on the repository's real
recordings and real tiny.en decodes: what is measured, which stretches are found, the level a
stretch is decoded at, and retakes spliced in time order."""

from functools import cache

import numpy as np
import pytest
from faster_whisper import decode_audio

import speech as engine
from speech import coverage
from speech.chunking import SAMPLE_RATE, VadSettings
from tests.audio import HOTWORDS, JFK, words

RATE = SAMPLE_RATE
pytestmark = pytest.mark.inference


@cache
def clip(path) -> np.ndarray:
    return decode_audio(str(path), sampling_rate=RATE)


@cache
def decoded(path, logprobs: bool = False):
    """tiny.en's transcript of a clip, with word timestamps."""
    return engine.transcribe(
        clip(path), model_id="tiny.en", language="en", word_timestamps=True, logprobs=logprobs
    )


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def test_a_clip_whisper_hears_whole_is_covered_and_has_nothing_to_decode_again():
    result = decoded(JFK)
    assert coverage.speech_coverage(clip(JFK), result.words) > 0.97
    assert coverage.uncovered_stretches(clip(JFK), result.words, vad=VadSettings()) == []


def test_speech_no_word_covers_is_found_where_it_lies():
    """JFK's words, then 1 s of silence and hotwords.mp3 that no word covers; and JFK with the
    words of its middle taken out: each is one stretch, from its speech to the next word."""
    jfk = clip(JFK)
    samples = np.concatenate([jfk, silence(1.0), clip(HOTWORDS)])
    jfk_words = decoded(JFK).words
    share = coverage.speech_coverage(samples, jfk_words)
    assert 0.45 < share < 0.9, share
    [(start, end)] = coverage.uncovered_stretches(samples, jfk_words, vad=VadSettings())
    onset = len(jfk) + RATE
    assert onset - 0.5 * RATE <= start <= onset + 0.5 * RATE, start / RATE
    assert end == len(samples)

    middle = len(jfk_words) // 2
    kept = jfk_words[: middle - 3] + jfk_words[middle + 3 :]
    assert coverage.speech_coverage(jfk, kept) < coverage.speech_coverage(jfk, jfk_words)
    [(start, end)] = coverage.uncovered_stretches(jfk, kept, vad=VadSettings())
    assert kept[middle - 4]["end"] * RATE <= start < jfk_words[middle - 3]["end"] * RATE
    assert jfk_words[middle + 2]["start"] * RATE < end <= kept[middle - 3]["start"] * RATE

    assert coverage.speech_coverage(silence(2.0), []) == 1.0
    assert coverage.uncovered_stretches(silence(2.0), [], vad=VadSettings()) == []


def test_a_quiet_stretch_is_raised_to_a_speaking_level_and_a_loud_one_left_alone():
    jfk = clip(JFK)
    quiet = jfk * 10 ** (-20 / 20)
    raised = coverage.leveled(quiet)
    gain = np.abs(raised).max() / np.abs(quiet).max()
    assert gain > 3 and np.allclose(raised, quiet * gain, atol=1e-6)
    # Whatever its level, a quiet stretch comes out at the same one.
    assert np.allclose(coverage.leveled(quiet / np.sqrt(10)), raised, atol=1e-4)
    assert coverage.leveled(raised) is raised or np.allclose(coverage.leveled(raised), raised)
    loud = jfk / np.abs(jfk).max() * 0.9
    assert coverage.leveled(loud) is loud


def test_retakes_are_spliced_in_time_order_with_their_words_and_log_probabilities():
    """hotwords.mp3, JFK and hotwords.mp3 again, with JFK's segments taken out of the
    transcript (as Whisper leaves speech out) and JFK decoded on its own: spliced back, the
    three read in order, each once, numbered from 0, every word and token score with them."""
    gap = silence(1.0)
    samples = np.concatenate([clip(HOTWORDS), gap, clip(JFK), gap, clip(HOTWORDS)])
    options = {"model_id": "tiny.en", "language": "en", "word_timestamps": True}
    whole = engine.transcribe(samples, logprobs=True, **options)
    jfk_start = len(clip(HOTWORDS)) + len(gap)
    jfk_end = jfk_start + len(clip(JFK))
    # By their starts, as the words are kept: a segment's last word may be stretched over the
    # silence into JFK (on some CPUs tiny.en ends hotwords' first segment at 5.22 s).
    outside = [s for s in whole.segments if not jfk_start <= s["start"] * RATE < jfk_end]
    assert 0 < len(outside) < len(whole.segments), whole.segments
    left_out = coverage.results_spliced(
        engine.TranscriptionResult(
            language="en", duration=whole.duration, text="", segments=[], words=[], logprobs=[]
        ),
        [(0, whole)],
        model_id="tiny.en",
    )
    assert left_out.segments == whole.segments and left_out.words == whole.words
    assert left_out.logprobs == whole.logprobs

    eot = engine.get_model("tiny.en").hf_tokenizer.token_to_id("<|endoftext|>")
    # Each kept segment's own words (handed out by their letters, as the splice reads them):
    # a word's time may lie in JFK's span although its segment is hotwords'.
    kept_words = [
        w for piece in coverage._pieces(whole, eot) if piece.segment in outside for w in piece.words
    ]
    scores, kept_scores, before = list(whole.logprobs), [], 0
    for segment in whole.segments:
        count = sum(1 for token in segment["tokens"] if token < eot)
        if segment in outside:
            kept_scores += scores[:count]
            before += count if segment["start"] * RATE < jfk_start else 0
        scores = scores[count:]
    dropped = engine.TranscriptionResult(
        language="en",
        duration=whole.duration,
        text="".join(s["text"] for s in outside).strip(),
        segments=outside,
        words=kept_words,
        logprobs=kept_scores,
    )
    [(start, end)] = coverage.uncovered_stretches(samples, dropped.words, vad=VadSettings())
    retake = engine.transcribe(samples[start:end], logprobs=True, **options)

    spliced = coverage.results_spliced(dropped, [(start, retake)], model_id="tiny.en")

    assert [s["id"] for s in spliced.segments] == list(range(len(spliced.segments)))
    starts = [s["start"] for s in spliced.segments]
    assert starts == sorted(starts)
    assert [w["start"] for w in spliced.words] == sorted(w["start"] for w in spliced.words)
    text = " ".join(words(spliced.text))
    assert text.count("ask not what your country") == 1, spliced.text
    assert text.count("then you go into your") == 2, spliced.text
    first, jfk, second = (
        text.find("then you go"),
        text.find("fellow americans"),
        text.rfind("then you go"),
    )
    assert first == 0 and first < jfk < second, spliced.text
    assert len(spliced.words) == len(kept_words) + len(retake.words)
    assert len(spliced.logprobs) == len(kept_scores) + len(retake.logprobs)
    assert spliced.logprobs[before : before + len(retake.logprobs)] == retake.logprobs
    assert coverage.speech_coverage(samples, spliced.words) > coverage.speech_coverage(
        samples, dropped.words
    )


def test_a_retake_inside_a_segment_cuts_it_between_two_words():
    """A retake placed between two words of one of JFK's segments: that segment is cut there,
    its tokens, text, words and scores shared between its two halves, the retake between."""
    jfk = decoded(JFK, logprobs=True)
    segment = max(jfk.segments, key=lambda s: len(s["text"]))
    inside = [w for w in jfk.words if segment["start"] <= w["start"] < segment["end"]]
    assert len(inside) >= 4, jfk.segments
    after = inside[len(inside) // 2]
    at = int(after["start"] * RATE) - 1
    retake = decoded(HOTWORDS, logprobs=True)

    spliced = coverage.results_spliced(jfk, [(at, retake)], model_id="tiny.en")

    index = jfk.segments.index(segment)
    head, *middle, tail = spliced.segments[index : index + len(retake.segments) + 2]
    assert [s["text"] for s in middle] == [s["text"] for s in retake.segments]
    assert head["tokens"] + tail["tokens"] == segment["tokens"]
    assert (head["text"] + tail["text"]).strip() == segment["text"].strip()
    assert tail["start"] == after["start"] and head["end"] <= after["start"]
    assert words(tail["text"])[0] == words(after["word"])[0]
    assert len(spliced.logprobs) == len(jfk.logprobs) + len(retake.logprobs)
    assert " ".join(words(spliced.text)).count(" ".join(words(retake.text))) == 1
    assert len(spliced.segments) == len(jfk.segments) + len(retake.segments) + 1


def test_a_translation_is_measured_by_its_segments_each_up_to_the_next():
    """A translation's words are timed against speech in another language: its segments, each
    reaching the next one's start, mark where it has speech; a transcription keeps its words."""
    result = engine.TranscriptionResult(
        text="One. Two.",
        segments=[
            {"start": 0.0, "end": 9.98, "text": " One."},
            {"start": 11.2, "end": 28.94, "text": " Two."},
        ],
        words=[{"start": 0.0, "end": 0.5, "word": " One."}, {"start": 11.2, "end": 12.0}],
        language="de",
        duration=29.4,
    )
    assert coverage.marks(result, task="transcribe") == result.words
    assert coverage.marks(result, task="translate") == [
        {"start": 0.0, "end": 11.2},
        {"start": 11.2, "end": 28.94},
    ]
    empty = engine.TranscriptionResult(text="", segments=[], words=[], language="de", duration=1.0)
    assert coverage.marks(empty, task="translate") == []


def said_again(word: str, *spans: tuple[float, float]):
    """A retake that says `word` once per (start, end) span, a segment each."""
    tokenizer = engine.get_model("tiny.en").hf_tokenizer
    segments = [
        {
            "id": number,
            "seek": 0,
            "start": start,
            "end": end,
            "text": f" {word}",
            "tokens": tokenizer.encode(f" {word}").ids,
        }
        for number, (start, end) in enumerate(spans)
    ]
    return engine.TranscriptionResult(
        language="en",
        duration=spans[-1][1],
        text=" ".join(word for _ in spans),
        segments=segments,
        words=[{"start": start, "end": end, "word": f" {word}"} for start, end in spans],
    )


def test_a_word_said_again_in_the_speech_left_out_is_kept_and_an_edge_heard_again_is_not():
    """ "five five", the second five left out: its retake hears the first one's edge and the
    second five. The edge is a repeat of the neighbour's last word (dropped), the second five
    lies in the speech no word covered (kept). A retake saying it twice there keeps it once."""
    jfk = decoded(JFK)
    last = jfk.words[-1]["word"].strip()
    at = jfk.words[-1]["end"] + 0.1
    retake = said_again(last, (0.0, 0.4), (0.45, 0.6))
    heard = [(at + 0.4, at + 0.7)]

    spliced = coverage.results_spliced(
        jfk, [(int(at * RATE), retake)], model_id="tiny.en", heard=heard
    )
    assert words(spliced.text) == [*words(jfk.text), *words(last)], spliced.text
    assert spliced.words[-1]["start"] == pytest.approx(at + 0.45, abs=1e-3)

    # Outside the speech left out, both are the neighbour's edge heard again.
    edges = coverage.results_spliced(jfk, [(int(at * RATE), retake)], model_id="tiny.en")
    assert words(edges.text) == words(jfk.text), edges.text

    # A one-word retake timed from its own start, the padding before the speech left out:
    # its middle lies before that speech, most of its end inside.
    early = said_again(last, (0.1, 0.56))
    kept = coverage.results_spliced(jfk, [(int(at * RATE), early)], model_id="tiny.en", heard=heard)
    assert words(kept.text) == [*words(jfk.text), *words(last)], kept.text

    twice = said_again(last, (0.4, 0.5), (0.5, 0.6))
    doubled = coverage.results_spliced(
        jfk, [(int(at * RATE), twice)], model_id="tiny.en", heard=heard
    )
    assert words(doubled.text) == [*words(jfk.text), *words(last)], doubled.text
