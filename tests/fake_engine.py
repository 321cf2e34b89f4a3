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

The switch has a second mode, `memo` (the `shared_decode` fixture), for tests whose subject is
what the platform makes of real output (formats, diarized answers, fields): a real decode,
diarization or speaker embedding already run in this test session on the same input is not run
again; the caller gets a deep copy of its result (see `_memoized`).
"""

import copy
import dataclasses
import hashlib
import inspect
import math
from typing import Any

import numpy as np

import speech as engine
from speech import SAMPLE_RATE, diarization
from speech.config import current as engine_config

SEGMENT_SECONDS = 10.0
WORDS = ("Fake", "words", "segment", "{n}.")
# Token ids below `<|endoftext|>` of every Whisper tokenizer (text tokens, as counted).
FIRST_TOKEN = 1000


class _Switch:
    on = False  # the fake engine (the `fake_engine` fixture)
    memo = False  # identical real calls run once per session (the `shared_decode` fixture)
    real = None
    real_diarize = None
    real_embed = None


switch = _Switch()
# Digest of (function, engine settings, every argument) -> deep copy of (result, on_segment calls).
_memo: dict[str, tuple[Any, list[tuple]]] = {}


def _transcribe(*args, **kwargs) -> engine.TranscriptionResult:
    """engine.transcribe for the whole test run: the fake while a test has it, else the real
    (once per identical call while `memo` is on)."""
    if switch.on:
        return fake_transcribe(*args, **kwargs)
    if switch.memo:
        return _memoized("transcribe", switch.real, args, kwargs)
    return switch.real(*args, **kwargs)


def _diarize(*args, **kwargs):
    if switch.memo:
        return _memoized("diarize", switch.real_diarize, args, kwargs)
    return switch.real_diarize(*args, **kwargs)


def _embed(*args, **kwargs):
    if switch.memo:
        return _memoized("embed", switch.real_embed, args, kwargs)
    return switch.real_embed(*args, **kwargs)


def install() -> None:
    """Put the switch in the one place callers decode through (`engine.transcribe`), and in
    diarization's two calls on real audio (`diarize`, `embed`), which the platform calls
    through their module (`diarization.diarize`)."""
    if switch.real is None:
        switch.real = engine.transcribe
        engine.transcribe = _transcribe
        switch.real_diarize, diarization.diarize = diarization.diarize, _diarize
        switch.real_embed, diarization.embed = diarization.embed, _embed


def uninstall() -> None:
    if switch.real is not None:
        engine.transcribe, switch.real = switch.real, None
        diarization.diarize, switch.real_diarize = switch.real_diarize, None
        diarization.embed, switch.real_embed = switch.real_embed, None


# --- memo: identical real calls run once ----------------------------------------------------


class _NotMemoizable(Exception):
    """An argument the digest cannot stand for (a file path or handle: its content may differ)."""


def _canonical(value) -> Any:
    """A value standing for an argument in the digest: arrays by their bytes, dtype and shape."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return ("ndarray", data.dtype.str, data.shape, hashlib.sha256(data.tobytes()).hexdigest())
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, repr(value.item()))
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, repr(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_canonical(item) for item in value])
    if isinstance(value, engine.SeededBudget):  # what is left of it decides the decode
        return ("budget", _canonical(dataclasses.asdict(value)))
    if isinstance(value, dict):
        return ("dict", sorted((repr(key), _canonical(item)) for key, item in value.items()))
    raise _NotMemoizable(type(value).__name__)


def _memoized(name: str, real, args: tuple, kwargs: dict) -> Any:
    """`real(*args, **kwargs)` once per session for each input: the key is a digest of every
    argument (defaults filled in, sorted by name; the samples by their bytes, dtype and shape)
    and of the engine's settings. `on_segment` is no input: the calls it got are recorded and
    replayed to the next caller's, with the result's own segments. A call that raised is not
    kept; one on a path or file is not memoized at all. The result is a deep copy each time,
    so a caller that changes it cannot change the next test's."""
    bound = inspect.signature(real).bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    on_segment = arguments.pop("on_segment", None)
    audio = next(iter(arguments.values()))  # the samples (or a path, a file: always run)
    try:
        if not isinstance(audio, np.ndarray):
            raise _NotMemoizable(type(audio).__name__)
        canonical = _canonical(sorted(arguments.items()))
    except _NotMemoizable:
        return real(*args, **kwargs)
    key = hashlib.sha256(repr((name, repr(engine_config()), canonical)).encode()).hexdigest()
    if key not in _memo:
        calls: list[tuple] = []
        if "on_segment" in bound.arguments:

            def record(*call):
                calls.append(call)
                if on_segment is not None:
                    on_segment(*call)

            arguments["on_segment"] = record
        result = real(**arguments)
        _memo[key] = copy.deepcopy((result, calls))
        return result
    result, calls = copy.deepcopy(_memo[key])
    for call in calls:
        if on_segment is not None:
            on_segment(*call)
    return result


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
    seeded_budget: engine.SeededBudget | None = None,
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
