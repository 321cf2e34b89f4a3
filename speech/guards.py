"""What every decode's segments go through before anyone sees them (decoding.transcribe):
nothing outside the audio, no text over silence, no repetition loop, and the seed that makes
Whisper's sampled decodes give the same text every time.

Whisper pads each window to 30 s and can write timestamps past the end of the audio, and text
where nobody speaks; on a short encoder window (a live turn's) it can repeat a sentence until
the window is full. A segment is clipped to the audio, dropped when the VAD hears no speech
anywhere near it, and a looping one is decoded again (`retake`); a loop that persists is cut
after its first round.
"""

import hashlib
import itertools
import json
import re
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .constants import SAMPLE_RATE

# faster-whisper's defaults (WhisperModel.transcribe), which the platform keeps: a window whose
# temperature-0 decode misses them is decoded again by Whisper's fallback ladder.
COMPRESSION_RATIO_THRESHOLD = 2.4
LOG_PROB_THRESHOLD = -1.0
NO_SPEECH_THRESHOLD = 0.6

# Silence: Silero's speech probability stays under VAD_THRESHOLD everywhere within
# SPEECH_MARGIN seconds of the segment. Lower than Silero's usual 0.5 and with a margin on each
# side (Whisper's timestamps are loose), so that quiet or clipped speech keeps its text.
VAD_THRESHOLD = 0.3
SPEECH_MARGIN = 0.5

# A loop: the same sentence of at least SENTENCE_WORDS words twice in a row, a run of words
# repeated REPEATS times or more that is LOOP_WORDS words long, or text that gzip compresses
# better than Whisper's own threshold. Shorter repeats ("no, no, no") are real speech.
SENTENCE_WORDS = 3
REPEATS = 4
LOOP_WORDS = 8
ENDS = ".!?\u3002\uff01\uff1f"  # and the CJK full stop, exclamation and question marks
SENTENCE = re.compile(f"[^{ENDS}]+[{ENDS}]+|[^{ENDS}]+$")


@dataclass
class Piece:
    """One segment as transcribe returns it: its dict, its words, its tokens' logprob entries."""

    segment: dict[str, Any]
    words: list[dict[str, Any]] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None


# --- The same text every time -------------------------------------------------------------------

_seed_lock = threading.Lock()


def seed_for(samples: np.ndarray, **options: Any) -> int:
    """A seed from the audio and everything else that shapes its decode. Word timestamps are
    found after each window is decoded, so asking for them does not change the draws."""
    options.pop("word_timestamps", None)
    digest = hashlib.sha256(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    # CTranslate2 reads 2**32 - 1 as "no seed, draw one".
    return int.from_bytes(digest.digest()[:4], "big") % (2**32 - 1)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside, a CTranslate2 model loaded here samples from `seed`.

    CTranslate2 keeps one random generator per thread, seeded from the process-wide seed the
    first time that thread samples (src/random.cc; OpenNMT/CTranslate2#1757): a loaded model
    samples on its own worker thread, so setting the seed again before a later decode changes
    nothing. Only a model whose thread has never sampled takes the seed, and the seed is
    process-wide: one seeded decode at a time."""
    import ctranslate2

    with _seed_lock:
        ctranslate2.set_random_seed(seed)
        yield


def falls_back(segment: dict[str, Any]) -> bool:
    """Whisper's fallback rule (faster-whisper's generate_with_fallback): the window this
    segment came from would be decoded again at a higher temperature."""
    logprob, ratio = segment["avg_logprob"], segment["compression_ratio"]
    silence = segment["no_speech_prob"] > NO_SPEECH_THRESHOLD and logprob < LOG_PROB_THRESHOLD
    return not silence and (ratio > COMPRESSION_RATIO_THRESHOLD or logprob < LOG_PROB_THRESHOLD)


# --- Loops --------------------------------------------------------------------------------------


def compression_ratio(text: str) -> float:
    """Whisper's measure of repetition: the text's size over its gzip-compressed size."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()


def loop_end(text: str) -> int | None:
    """Where a loop in `text` starts repeating (the end of its first round, as a character
    offset), or None when it does not loop. len(text) when it loops but no round is found."""
    sentences = [(m.end(), _words(m.group())) for m in SENTENCE.finditer(text)]
    for (end, first), (_, second) in itertools.pairwise(sentences):
        if len(first) >= SENTENCE_WORDS and first == second:
            return end
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    words = [_words(text[start:end]) for start, end in spans]
    for size in range(1, LOOP_WORDS // 2 + 1):
        repeats = max(REPEATS, -(-LOOP_WORDS // size))
        for start in range(len(words) - size * repeats + 1):
            unit = words[start : start + size]
            if all(
                words[start + k * size : start + (k + 1) * size] == unit for k in range(repeats)
            ):
                return spans[start + size - 1][1]
    if compression_ratio(text) > COMPRESSION_RATIO_THRESHOLD:
        # Gzip says it repeats: its first round, of a phrase longer than the runs above (one
        # said twice in a row: this text loops already), else all of it.
        for size in range(LOOP_WORDS // 2 + 1, len(words) // 2 + 1):
            for start in range(len(words) - 2 * size + 1):
                if words[start : start + size] == words[start + size : start + 2 * size]:
                    return spans[start + size - 1][1]
        return len(text)
    return None


def repeats_previous(text: str, previous: str) -> bool:
    """The same sentence again, as a segment of its own."""
    words = _words(text)
    return len(words) >= SENTENCE_WORDS and words == _words(previous)


# --- The guard ----------------------------------------------------------------------------------


class Guard:
    """Checks a decode's segments one by one, in order (`check`).

    `retake(start, end)`: the audio between those times (seconds) decoded again, as pieces in
    the audio's times; `tokenizer`: the model's (a cut loop keeps its tokens' prefix)."""

    def __init__(
        self,
        samples: np.ndarray,
        *,
        retake: Callable[[float, float], list[Piece]],
        tokenizer: Any,
        eot: int,
    ) -> None:
        self.samples = samples
        self.duration = len(samples) / SAMPLE_RATE
        self.retake = retake
        self.tokenizer = tokenizer
        self.eot = eot
        self.previous = ""  # the text of the last segment let through
        self._speech: list[tuple[float, float]] | None = None

    def check(self, piece: Piece) -> list[Piece]:
        """What becomes of one segment: nothing, itself (perhaps clipped or cut), or the
        segments its stretch gave when decoded again."""
        inside = self.inside(piece)
        if inside is None or not self.heard(inside.segment):
            return []
        if not self.loops(inside):
            return self._through([inside])
        # From the segment's start (the speech before it has its text already) to a little
        # after its end: Whisper's end times are often early.
        start, end = (
            inside.segment["start"],
            min(self.duration, inside.segment["end"] + SPEECH_MARGIN),
        )
        retaken = (self.inside(p) for p in self.retake(start, end))
        pieces = [p for p in retaken if p is not None and self.heard(p.segment)]
        if not pieces and not repeats_previous(inside.segment["text"], self.previous):
            pieces = [inside]  # its stretch alone gave nothing: keep what it heard, cut below
        # What the stretch says on its own stands, even the previous sentence again: that is
        # speech said twice. A loop inside a segment that persists is cut to its first round.
        return self._through([self.cut(p) for p in pieces])

    def _through(self, pieces: list[Piece]) -> list[Piece]:
        if pieces:
            self.previous = pieces[-1].segment["text"]
        return pieces

    def loops(self, piece: Piece) -> bool:
        text = piece.segment["text"]
        return loop_end(text) is not None or repeats_previous(text, self.previous)

    def inside(self, piece: Piece) -> Piece | None:
        """The segment and its words clipped to the audio; None if it starts at its end."""
        segment, duration = piece.segment, round(self.duration, 3)
        if segment["start"] >= duration:
            return None
        if segment["end"] <= duration and all(w["end"] <= duration for w in piece.words):
            return piece
        words = [
            {**word, "end": min(word["end"], duration)}
            for word in piece.words
            if word["start"] < duration
        ]
        return replace(
            piece, segment={**segment, "end": min(segment["end"], duration)}, words=words
        )

    def heard(self, segment: dict[str, Any]) -> bool:
        """Whether the VAD hears speech within SPEECH_MARGIN of the segment."""
        start, end = segment["start"] - SPEECH_MARGIN, segment["end"] + SPEECH_MARGIN
        return any(s < end and e > start for s, e in self.speech())

    def speech(self) -> list[tuple[float, float]]:
        """Silero's speech regions of the audio (seconds), found once, when first needed."""
        if self._speech is None:
            from faster_whisper.vad import VadOptions, get_speech_timestamps

            options = VadOptions(threshold=VAD_THRESHOLD, min_speech_duration_ms=0, speech_pad_ms=0)
            regions = get_speech_timestamps(self.samples, options, sampling_rate=SAMPLE_RATE)
            self._speech = [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in regions]
        return self._speech

    def cut(self, piece: Piece) -> Piece:
        """The segment up to the end of its loop's first round (tokens, words and logprobs
        with it); the segment itself if it does not loop."""
        text = piece.segment["text"]
        end = loop_end(text)
        if end is None or end >= len(text.rstrip()):
            return piece
        kept = text[:end]
        tokens = piece.segment["tokens"]
        text_tokens = [t for t in tokens if t < self.eot]
        count = next(
            (
                k
                for k in range(1, len(text_tokens) + 1)
                if len(self.tokenizer.decode(text_tokens[:k]).rstrip()) >= len(kept.rstrip())
            ),
            len(text_tokens),
        )
        words = piece.words[: len(kept.split())]
        segment = {
            **piece.segment,
            "text": kept,
            "tokens": text_tokens[:count],
            "end": words[-1]["end"] if words else piece.segment["end"],
        }
        logprobs = piece.logprobs[:count] if piece.logprobs is not None else None
        return Piece(segment=segment, words=words, logprobs=logprobs)


def moved(piece: Piece, seconds: float) -> Piece:
    """A piece of audio that starts `seconds` in, in the times of the whole."""

    def shifted(item: dict[str, Any]) -> dict[str, Any]:
        return {
            **item,
            "start": round(item["start"] + seconds, 3),
            "end": round(item["end"] + seconds, 3),
        }

    segment = shifted(piece.segment)
    segment["seek"] = piece.segment["seek"] + round(seconds * 100)
    return Piece(segment=segment, words=[shifted(w) for w in piece.words], logprobs=piece.logprobs)
