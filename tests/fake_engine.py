"""The project's one fake engine, for tests whose subject is not the engine (billing, quotas,
limits, permissions, errors, HTTP shapes, pages): only the decode call, `engine.transcribe`,
is replaced. Everything around it stays real: the upload is probed, measured, limited,
reserved and billed from the real audio; the job is queued, chunked and run by the worker
code; progress, usage rows and the quota are written as for a real decode.

Its transcript is made from the samples it is given, never from the words in them: one
segment per started SEGMENT_SECONDS of audio, each the same four words, times spread evenly;
silence (all samples zero) gives no segment, as Whisper gives none. Tests assert about this
text (`fake_text(seconds)`), so a test that needs the real words of a recording is an engine
test and runs the real engine (`tests/fake_engine.py` is never used there).
"""

import math
from typing import Any

import numpy as np

import speech as engine
from speech import SAMPLE_RATE

SEGMENT_SECONDS = 10.0
WORDS = ("Fake", "words", "segment", "{n}.")
# Token ids below `<|endoftext|>` of every Whisper tokenizer (text tokens, as counted).
FIRST_TOKEN = 1000


class _Switch:
    on = False
    real = None


switch = _Switch()


def _transcribe(*args, **kwargs) -> engine.TranscriptionResult:
    """engine.transcribe for the whole test run: the fake while a test has it, else the real."""
    return (fake_transcribe if switch.on else switch.real)(*args, **kwargs)


def install() -> None:
    """Put the switch in the one place callers decode through (`engine.transcribe`)."""
    if switch.real is None:
        switch.real = engine.transcribe
        engine.transcribe = _transcribe


def uninstall() -> None:
    if switch.real is not None:
        engine.transcribe, switch.real = switch.real, None


def fake_segment_texts(seconds: float) -> list[str]:
    """The segments' text for audio of `seconds` (not silent)."""
    count = max(1, math.ceil(round(seconds, 3) / SEGMENT_SECONDS))
    return [" " + " ".join(WORDS).format(n=n) for n in range(1, count + 1)]


def fake_text(seconds: float) -> str:
    """The whole transcript the fake gives for audio of `seconds` decoded in one piece."""
    return "".join(fake_segment_texts(seconds)).strip()


def _samples(audio) -> np.ndarray:
    if isinstance(audio, np.ndarray):
        return audio
    from faster_whisper.audio import decode_audio

    return decode_audio(audio, sampling_rate=SAMPLE_RATE)


def fake_transcribe(
    audio,
    *,
    model_id: str,
    task: str = "transcribe",
    language: str | None = None,
    prompt: str | None = None,
    temperature: float = 0.0,
    word_timestamps: bool = False,
    keywords=(),
    logprobs: bool = False,
    on_segment=None,
    prefix: str | None = None,
    window_seconds: int | None = None,
    quick: bool = False,
) -> engine.TranscriptionResult:
    """engine.transcribe's signature and result, with a transcript made as described above."""
    engine.registry()[model_id]  # an unknown model fails as the real engine would
    samples = _samples(audio)
    duration = round(len(samples) / SAMPLE_RATE, 3)
    texts = [] if not np.any(samples) else fake_segment_texts(duration)
    segments: list[dict[str, Any]] = []
    words: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    span = duration / len(texts) if texts else 0.0
    for index, text in enumerate(texts):
        start, end = round(index * span, 3), round((index + 1) * span, 3)
        pieces = text.split()
        tokens = [FIRST_TOKEN + n for n in range(len(pieces))]
        segment = {
            "id": index,
            "seek": int(start * 100),
            "start": start,
            "end": end,
            "text": text,
            "tokens": tokens,
            "temperature": temperature,
            "avg_logprob": -0.25,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.01,
        }
        segments.append(segment)
        step = (end - start) / len(pieces)
        for n, piece in enumerate(pieces):
            words.append(
                {
                    "word": piece,
                    "start": round(start + n * step, 3),
                    "end": round(start + (n + 1) * step, 3),
                }
            )
        entries = None
        if logprobs:
            entries = [
                {"token": " " + piece, "bytes": list((" " + piece).encode()), "logprob": -0.25}
                for piece in pieces
            ]
            scores.extend(entries)
        if on_segment is not None:
            on_segment(segment, duration, entries)
    return engine.TranscriptionResult(
        language=language or "en",
        duration=duration,
        text="".join(s["text"] for s in segments).strip(),
        segments=segments,
        words=words if word_timestamps else None,
        logprobs=scores if logprobs else None,
    )
