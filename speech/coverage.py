"""Every stretch of speech in the transcript.

Whisper decodes a window at a time and sometimes leaves speech of it out: a quiet voice, a
short turn of another speaker, the window's start, its middle, or its end (a lone timestamp
that takes the rest for silence). Silero's VAD hears that speech, and the transcript's word
timestamps say where Whisper put words: speech that no word covers is decoded again on its own,
its level raised if it is quiet, and its segments are spliced into the transcript in time order.
A stretch the words cover is never decoded again, so a transcript that misses nothing is
returned as it is.

Samples, words and results in, results out; nothing here knows jobs, settings or Django (the
splice borrows only the loaded model's tokenizer, to cut a segment's tokens between two words).
"""

from bisect import bisect_left
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Any

import numpy as np

from .chunking import VadSettings, speech_regions, times_moved
from .constants import SAMPLE_RATE
from .transcript import TranscriptionResult

# Word timestamps come from cross-attention and miss a word's edges by up to about this much:
# speech this close to a word is that word's.
WORD_SLACK_SECONDS = 0.2
# Less uncovered speech than this in a gap between two words is their edges or a breath, not
# something left out...
MIN_UNCOVERED_SECONDS = 0.5
# ...unless it is a stretch of speech of its own that no word comes near: a one-word turn
# ("five" said twice, the second left out) is as short as Silero's shortest speech, 250 ms.
MIN_LONE_SPEECH_SECONDS = 0.25
# A stretch is decoded at an ordinary speech level (-20 dBFS RMS over its louder half), raised
# by at most MAX_GAIN: a quiet speaker is heard as the others are, and noise is not blown up.
TARGET_RMS = 0.1
MAX_GAIN = 30.0
LEVEL_FRAME_SECONDS = 0.02


def _spans(words: list[dict], sampling_rate: int) -> list[tuple[int, int]]:
    """The samples the words cover, each widened by WORD_SLACK_SECONDS, merged."""
    slack = WORD_SLACK_SECONDS
    # Rounded, not truncated: 2.8 s + 0.2 s is 2.9999999999999996 s in floating point.
    spans = sorted(
        (
            max(0, round((w["start"] - slack) * sampling_rate)),
            round((w["end"] + slack) * sampling_rate),
        )
        for w in words
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _uncovered(
    regions: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The parts of the speech regions outside every span (both sorted, spans disjoint)."""
    pieces = []
    index = 0
    for start, end in regions:
        while index < len(spans) and spans[index][1] <= start:
            index += 1
        at, probe = start, index
        while probe < len(spans) and spans[probe][0] < end:
            if spans[probe][0] > at:
                pieces.append((at, spans[probe][0]))
            at = max(at, spans[probe][1])
            probe += 1
        if at < end:
            pieces.append((at, end))
    return pieces


def marks(result: TranscriptionResult, *, task: str | None = "transcribe") -> list[dict] | None:
    """Where a transcript has speech: its words; for a translation, its segments, each up to
    the next: a translation's words are timed by cross-attention against speech in another
    language, and so are its segments' ends, so their gaps say nothing of speech left out
    (decoded again, each such gap spliced a fragment into the translation).
    Speech before a translation's first segment or after its last still counts as left out."""
    if task != "translate" or not result.segments:
        return result.words
    ends = [s["start"] for s in result.segments[1:]] + [result.segments[-1]["end"]]
    return [
        {"start": s["start"], "end": max(s["end"], end)}
        for s, end in zip(result.segments, ends, strict=True)
    ]


def speech_coverage(
    samples: np.ndarray,
    words: list[dict] | None,
    *,
    vad: VadSettings | None = None,
    sampling_rate: int = SAMPLE_RATE,
    regions: list[tuple[int, int]] | None = None,
) -> float:
    """The share of the speech Silero hears in `samples` that the words' timestamps (seconds
    from the samples' start) cover, from 0 to 1; 1 when it hears none."""
    if regions is None:
        regions = speech_regions(samples, vad or VadSettings(), sampling_rate)
    total = sum(end - start for start, end in regions)
    if not total:
        return 1.0
    left = speech_uncovered(regions, words, sampling_rate)
    return 1.0 - sum(end - start for start, end in left) / total


def speech_uncovered(
    regions: list[tuple[int, int]], words: list[dict] | None, sampling_rate: int = SAMPLE_RATE
) -> list[tuple[int, int]]:
    """The parts of the speech regions (sorted sample ranges) that no word covers (each word
    widened by WORD_SLACK_SECONDS; word times in seconds), in order."""
    return _uncovered(regions, _spans(words or [], sampling_rate))


def uncovered_stretches(
    samples: np.ndarray,
    words: list[dict],
    *,
    vad: VadSettings,
    sampling_rate: int = SAMPLE_RATE,
    regions: list[tuple[int, int]] | None = None,
) -> list[tuple[int, int]]:
    """Sample ranges to decode again, in order: each gap between two words (or before the
    first, or after the last) that holds at least MIN_UNCOVERED_SECONDS of speech no word
    covers, or a whole stretch of speech of at least MIN_LONE_SPEECH_SECONDS that no word
    comes near, from that speech less `prefix_padding_ms` to its end plus as much, never over
    a word on either side."""
    if regions is None:
        regions = speech_regions(samples, vad, sampling_rate)
    words = sorted(words, key=lambda w: w["start"])
    starts = [int(w["start"] * sampling_rate) for w in words]
    ends = list(accumulate((int(w["end"] * sampling_rate) for w in words), max))
    padding = vad.prefix_padding_ms * sampling_rate // 1000
    gaps: dict[int, list[tuple[int, int]]] = {}
    for start, end in _uncovered(regions, _spans(words, sampling_rate)):
        # The piece lies outside every word: the words starting before it all end before it.
        gaps.setdefault(bisect_left(starts, start), []).append((start, end))
    stretches = []
    lone = {
        (start, end)
        for start, end in regions
        if end - start >= MIN_LONE_SPEECH_SECONDS * sampling_rate
    }
    for before, pieces in sorted(gaps.items()):
        if sum(
            end - start for start, end in pieces
        ) < MIN_UNCOVERED_SECONDS * sampling_rate and not lone.intersection(pieces):
            continue
        lowest = ends[before - 1] if before else 0
        highest = starts[before] if before < len(starts) else len(samples)
        stretches.append(
            (max(lowest, pieces[0][0] - padding), min(highest, pieces[-1][1] + padding))
        )
    return stretches


def leveled(samples: np.ndarray, sampling_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples at TARGET_RMS over their louder half (pauses do not count), raised only,
    by at most MAX_GAIN, clipped to [-1, 1]."""
    size = max(1, int(LEVEL_FRAME_SECONDS * sampling_rate))
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    if not len(frames):
        return samples
    power = np.sort((frames.astype(np.float64) ** 2).mean(axis=1))
    rms = float(np.sqrt(power[len(power) // 2 :].mean()))
    if rms <= 0 or rms >= TARGET_RMS:
        return samples
    gain = min(MAX_GAIN, TARGET_RMS / rms)
    return np.clip(samples * gain, -1.0, 1.0).astype(samples.dtype)


def text_before(result: Any, seconds: float) -> str:
    """The transcript's text that ends by `seconds` (a retake's prompt, as a long-form pass
    conditions a window on the text before it)."""
    return "".join(s["text"] for s in result.segments if s["end"] <= seconds).strip()


# --- Splicing retakes into the transcript -------------------------------------------------------


@dataclass
class _Piece:
    """A segment with its words and its tokens' log probabilities."""

    segment: dict[str, Any]
    words: list[dict[str, Any]] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)


def _letters(text: str) -> int:
    return len("".join(text.split()))


def _pieces(result: Any, eot: int) -> list[_Piece]:
    """The result's segments, each with its words (a segment's words spell its text: they are
    handed out by their letters) and its text tokens' log probabilities."""
    words = list(result.words or [])
    scores = list(result.logprobs or [])
    pieces = []
    for segment in result.segments:
        piece = _Piece(segment)
        wanted, spelled = _letters(segment["text"]), 0
        while words and spelled < wanted:
            spelled += _letters(words[0]["word"])
            piece.words.append(words.pop(0))
        count = sum(1 for token in segment["tokens"] if token < eot)
        piece.logprobs, scores = scores[:count], scores[count:]
        pieces.append(piece)
    if pieces:  # never expected: words that spell no segment stay with the last
        pieces[-1].words.extend(words)
        pieces[-1].logprobs.extend(scores)
    return pieces


def _split(piece: _Piece, seconds: float, tokenizer: Any, eot: int) -> list[_Piece]:
    """The piece cut between its words before `seconds` and those after (its tokens and text
    cut there too), or the piece whole when it has no such place. A word that ends by
    `seconds` is before it, even one of no length right there (faster-whisper gives a word
    squeezed by a neighbour stretched over a pause its end as its start)."""
    before = [w for w in piece.words if w["start"] < seconds or w["end"] <= seconds]
    if not before or len(before) == len(piece.words):
        return [piece]
    wanted = sum(_letters(w["word"]) for w in before)
    tokens = piece.segment["tokens"]
    text_at = [i for i, token in enumerate(tokens) if token < eot]
    for count in range(1, len(text_at)):
        head_text = tokenizer.decode([tokens[i] for i in text_at[:count]])
        if _letters(head_text) == wanted:
            break
    else:
        return [piece]
    cut = text_at[count]
    head, tail = tokens[:cut], tokens[cut:]
    after = piece.words[len(before) :]
    return [
        _Piece(
            {**piece.segment, "end": before[-1]["end"], "text": head_text, "tokens": head},
            before,
            piece.logprobs[:count],
        ),
        _Piece(
            {
                **piece.segment,
                "start": after[0]["start"],
                "text": tokenizer.decode([t for t in tail if t < eot]),
                "tokens": tail,
            },
            after,
            piece.logprobs[count:],
        ),
    ]


def _said(piece: _Piece) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in piece.segment["text"]).split()


def _in_speech_asked_for(piece: _Piece, heard: list[tuple[float, float]]) -> bool:
    """Whether a word of the piece lies in speech that no word covered before the retake (what
    the retake was decoded for): by its middle, or by at least half WORD_SLACK_SECONDS of its
    time. A retake's first word is often timed from the retake's own start, which is the
    padding before that speech: a one-word retake ("five") then has its middle before the
    speech it says."""
    return any(
        start <= (word["start"] + word["end"]) / 2 <= end
        or min(end, word["end"]) - max(start, word["start"]) >= WORD_SLACK_SECONDS / 2
        for word in piece.words
        for start, end in heard
    )


def _unrepeated(
    added: list[_Piece],
    before: list[_Piece],
    after: list[_Piece],
    heard: list[tuple[float, float]],
) -> list[_Piece]:
    """A retake's segments less those that say again what is said next to them: Whisper on a
    stretch of a second or two may say its words twice, or a neighbour's last (or first)
    words it heard the edge of. A segment in the speech the retake was for says them again
    for real ("five five", the second five left out): kept, unless the retake itself just
    said it."""
    kept: list[_Piece] = []
    for piece in added:
        said = _said(piece)
        if not said:
            kept.append(piece)
            continue
        if kept:
            if said == _said(kept[-1])[-len(said) :]:
                continue
        elif not _in_speech_asked_for(piece, heard):
            previous = _said(before[-1]) if before else []
            if said == previous[-len(said) :]:
                continue
        following = _said(after[0]) if after and piece is added[-1] else []
        if following and said == following[: len(said)] and not _in_speech_asked_for(piece, heard):
            continue
        kept.append(piece)
    return kept


def results_spliced(
    result: Any,
    retakes: list[tuple[int, Any]],
    *,
    model_id: str,
    heard: list[tuple[float, float]] = (),
) -> Any:
    """`result` with the segments of each retake, `(start_sample, transcript of the samples
    from there)`, put in time order: a segment whose words run on both sides of a retake is
    cut between them. Segments are numbered from 0 again; words and log probabilities follow
    their segments (each kept only if `result` has them). `heard`: the speech (seconds) no
    word covered, which the retakes were decoded for (speech_uncovered)."""
    from .decoding import get_model

    tokenizer = get_model(model_id).hf_tokenizer
    eot = tokenizer.token_to_id("<|endoftext|>")
    pieces = _pieces(result, eot)
    for start_sample, retake in retakes:
        segments, words = times_moved(retake.segments, retake.words or [], start_sample)
        added = _pieces(replace(retake, segments=segments, words=words), eot)
        if not added:
            continue
        at = added[0].segment["start"]
        pieces = [part for piece in pieces for part in _split(piece, at, tokenizer, eot)]
        index = next((i for i, p in enumerate(pieces) if p.segment["start"] >= at), len(pieces))
        pieces[index:index] = _unrepeated(added, pieces[:index], pieces[index:], list(heard))
    segments = [{**p.segment, "id": number} for number, p in enumerate(pieces)]
    return replace(
        result,
        text="".join(s["text"] for s in segments).strip(),
        segments=segments,
        words=None if result.words is None else [w for p in pieces for w in p.words],
        logprobs=None if result.logprobs is None else [e for p in pieces for e in p.logprobs],
    )
