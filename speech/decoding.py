"""faster-whisper behind a small interface: the per-process model cache and one `transcribe`
call with the platform's decode settings.

Each worker process loads a model once and keeps it; loading takes far longer than a short
clip's inference, so it must never happen per job."""

import contextlib
import ctypes
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from . import guards
from . import logprobs as token_scores
from .config import current
from .constants import SAMPLE_RATE
from .registry import model_directory, registry
from .windows import encoder_window, windowed

logger = logging.getLogger(__name__)

# Whisper's fallback ladder, used when the caller leaves temperature at 0 (OpenAI's documented
# behaviour: "the model will use log probability to automatically increase the temperature").
TEMPERATURE_LADDER = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
BEAM_SIZE = 5
# Real speech shipped with the project (benchmark_data/NOTICE): each worker transcribes it once
# per model at start.
WARM_UP_CLIP = (
    Path(__file__).resolve().parent.parent / "transcriptions" / "benchmark_data" / "jfk.flac"
)


@dataclass
class TranscriptionResult:
    language: str
    duration: float
    text: str
    segments: list[dict[str, Any]] = field(default_factory=list)
    words: list[dict[str, Any]] | None = None
    # include=["logprobs"]: [{"token", "bytes", "logprob"}] of every text token, in order.
    logprobs: list[dict[str, Any]] | None = None
    # The models billed by tokens at OpenAI (`reports_tokens` in transcriptions/openai/policy.py),
    # for their `usage`: the tokens of the text given to the decoder (prompt and keywords), and
    # the text tokens it decoded (timestamps and special tokens left out, as in `logprobs`).
    text_tokens: int | None = None
    output_tokens: int | None = None


# --- Loaded models ------------------------------------------------------------------------------

_models: dict[str, Any] = {}
_directories: dict[str, str] = {}  # verified model directories
_lock = threading.Lock()


def compute_device() -> tuple[str, str]:
    """(device, compute type) for new models: int8 on CPU, float16 on CUDA when present."""
    device = current().device
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    return device, "float16" if device == "cuda" else "int8"


def get_model(model_id: str):
    """The loaded WhisperModel for a registry id, loaded on first use and kept."""
    model = _models.get(model_id)
    if model is not None:
        return model
    with _lock:
        if model_id not in _models:
            _directories[model_id] = str(model_directory(registry()[model_id]))
            _models[model_id] = _load(model_id)
        return _models[model_id]


def _load(model_id: str):
    """A new WhisperModel of a model whose files get_model verified."""
    from faster_whisper import WhisperModel

    spec = registry()[model_id]
    device, compute_type = compute_device()
    model = WhisperModel(
        _directories[model_id],
        device=device,
        compute_type=spec.compute_type or compute_type,
        cpu_threads=current().cpu_threads,
        num_workers=1,
    )
    windowed(model)
    logger.info("loaded model %s on %s (%s)", model_id, device, compute_type)
    return model


def loaded_models() -> list[str]:
    return sorted(_models)


def preload(model_ids: Iterable[str] | None = None) -> None:
    """Load models, and run each once, before the first job so that it is as fast as any
    other: a model's first inference sets up buffers and kernels that later ones reuse, and
    the first decoded file initialises PyAV's codecs."""
    try:
        for model_id in model_ids if model_ids is not None else current().preload_models:
            _warm_up(model_id, get_model(model_id))
    finally:
        _freeze_long_lived_objects()
        _release_free_memory()


def _release_free_memory() -> None:
    """Give the heap that loading and warming up used and freed back to the system (glibc
    keeps it otherwise): a preloaded model that no job uses then costs its weights, not also
    the working memory of its warm-up."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _warm_up(model_id: str, model) -> None:
    started = time.monotonic()
    try:
        segments, _ = model.transcribe(str(WARM_UP_CLIP), **decode_options())
        for _ in segments:
            pass
    except Exception:
        # Only a warm-up: the model loaded, and a real fault shows on the first job.
        logger.warning("warming up %s failed", model_id, exc_info=True)
    else:
        logger.info("warmed up model %s in %.2f s", model_id, time.monotonic() - started)


_frozen = False


def _freeze_long_lived_objects() -> None:
    """Exempt everything loaded so far (Django, the models) from the garbage collector.

    faster-whisper's decode_audio runs gc.collect() for every file, and a full collection
    walks every object of the process: in a worker, with Django loaded, a cost on every job
    (a bare faster-whisper process has a third as many objects to walk). Frozen
    objects are skipped; what a job allocates is still collected. Once per process, after a
    collection, so that no garbage is frozen with them.
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


# --- Inference --------------------------------------------------------------------------------


def _segment_dict(segment, temperature_default: float) -> dict[str, Any]:
    return {
        "id": segment.id - 1,  # OpenAI numbers segments from 0; faster-whisper from 1
        "seek": segment.seek,
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "tokens": list(segment.tokens),
        "temperature": segment.temperature
        if segment.temperature is not None
        else temperature_default,
        "avg_logprob": segment.avg_logprob,
        "compression_ratio": segment.compression_ratio,
        "no_speech_prob": segment.no_speech_prob,
    }


def decode_options(
    *,
    task: str = "transcribe",
    language: str | None = None,
    prompt: str | None = None,
    temperature: float = 0.0,
    word_timestamps: bool = False,
    keywords: Iterable[str] = (),
) -> dict[str, Any]:
    """WhisperModel.transcribe's keyword arguments for a request: the platform's decode
    settings in one place, so the benchmark's bare engine decodes exactly as a job does.
    `keywords` (OpenAI's `keywords[]`) become faster-whisper's `hotwords`, a phrase the decoder
    is primed with before each window (with the prompt, if any); left out when there are none."""
    temperatures = TEMPERATURE_LADDER if temperature == 0 else (temperature,)
    options: dict[str, Any] = {
        "task": task,
        "language": language,
        "initial_prompt": prompt or None,
        "temperature": list(temperatures),
        "beam_size": BEAM_SIZE,
        "word_timestamps": word_timestamps,
        "vad_filter": False,
    }
    hotwords = hotwords_phrase(keywords)
    if hotwords:
        options["hotwords"] = hotwords
    return options


def hotwords_phrase(keywords: Iterable[str]) -> str:
    """The keywords as one phrase, in their order: "ComfyUI, Stable Diffusion"."""
    return ", ".join(k.strip() for k in keywords if k.strip())


def detect_language(samples, *, model_id: str, candidates: Iterable[str] = ()) -> str:
    """The language of the audio as one pass over it decides it: from its first 30 s ("en" for
    an English-only model). With `candidates` (OpenAI's `languages[]`), the likeliest of them."""
    model = get_model(model_id)
    if not model.model.is_multilingual:
        return "en"
    language, _probability, all_probabilities = model.detect_language(audio=samples)
    candidates = list(candidates)
    if candidates:
        probabilities = dict(all_probabilities)
        # max keeps the first of equals: the client's order breaks ties.
        language = max(candidates, key=lambda code: probabilities.get(code, 0.0))
    return language


def transcribe(
    audio: str | BinaryIO | np.ndarray,
    *,
    model_id: str,
    task: str = "transcribe",
    language: str | None = None,
    prompt: str | None = None,
    temperature: float = 0.0,
    word_timestamps: bool = False,
    keywords: Iterable[str] = (),
    logprobs: bool = False,
    on_segment: Callable[..., None] | None = None,
    prefix: str | None = None,
    window_seconds: int | None = None,
    quick: bool = False,
    word_probabilities: bool = False,
) -> TranscriptionResult:
    """Run Whisper on one file; `on_segment(segment, duration, logprobs)` sees each segment as
    it comes (`logprobs`: its tokens' entries, or None when they were not asked for). Every
    segment goes through the guards first (speech/guards.py).

    Live turns only: `prefix`, text the first window's transcript must start with (the words a
    live turn already sent as deltas: faster-whisper's `prefix`, which the text includes);
    `window_seconds`, the encoder window (encoder_window); `quick`, one greedy decode at
    temperature 0, no beam search or fallback ladder (a preview: the turn's own text replaces
    it); `word_probabilities`, each word's probability in its dict (no response shows them).

    The same audio and options give the same text every time. Temperature 0 with beam search
    draws nothing at random, so each file is decoded that way first, on the loaded model. Only
    when a window misses Whisper's thresholds (guards.falls_back), or the caller asked for a
    temperature, is it decoded with sampling: the whole file again, on a model loaded for it
    and seeded from the audio and options (guards.seeded says why a new one); the segments
    already given to `on_segment` come out the same and are not given again."""
    from faster_whisper import decode_audio

    model = get_model(model_id)
    samples = audio if isinstance(audio, np.ndarray) else decode_audio(audio)
    options = decode_options(
        task=task,
        language=language,
        prompt=prompt,
        temperature=temperature,
        word_timestamps=word_timestamps,
        keywords=keywords,
    )
    if prefix:
        options["prefix"] = prefix
    if quick:
        options["temperature"] = options["temperature"][:1]
        options["beam_size"] = 1
    out = _Transcript(on_segment, probabilities=word_probabilities)
    detected = [language]

    def retake(start: float, end: float) -> list[guards.Piece]:
        # Deterministic (temperature 0), the full window, no previous text to repeat.
        again = {**options, "temperature": [0.0], "language": detected[0], "initial_prompt": None}
        again["condition_on_previous_text"] = False
        if start > 0:
            again.pop("prefix", None)  # the words a live turn sent come at its start
        piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        with _decoding(model, piece, again, window_seconds=None, logprobs=logprobs) as (_, found):
            return [guards.moved(p, start) for p in found]

    guard = guards.Guard(
        samples, retake=retake, tokenizer=model.hf_tokenizer, eot=_end_of_text(model)
    )
    first = {**options, "temperature": [0.0]}
    sampled = options["temperature"][0] > 0
    raw: list[str] = []  # the segments the first pass gave, as decoded
    if not sampled:
        decoded = _decoding(model, samples, first, window_seconds=window_seconds, logprobs=logprobs)
        with decoded as (info, found):
            detected[0] = info.language
            for piece in found:
                if len(options["temperature"]) > 1 and guards.falls_back(piece.segment):
                    sampled = True
                    break
                raw.append(piece.segment["text"])
                out.add(guard.check(piece), info.duration)
    if sampled:
        seed = guards.seed_for(samples, model_id=model_id, window=window_seconds, **options)
        with guards.seeded(seed):
            fresh = _load(model_id)
            decoded = _decoding(
                fresh, samples, options, window_seconds=window_seconds, logprobs=logprobs
            )
            with decoded as (info, found):
                detected[0] = info.language
                for index, piece in enumerate(found):
                    if index >= len(raw):
                        out.add(guard.check(piece), info.duration)
                    elif piece.segment["text"] != raw[index]:
                        logger.warning("segment %d came out other than the first time", index)
    return out.result(info, word_timestamps=word_timestamps, logprobs=logprobs)


class _Transcript:
    """The segments let through, numbered from 0 as OpenAI does, each given to `on_segment`."""

    def __init__(self, on_segment: Callable[..., None] | None, probabilities: bool) -> None:
        self.on_segment, self.probabilities = on_segment, probabilities
        self.segments: list[dict[str, Any]] = []
        self.words: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []

    def add(self, pieces: list[guards.Piece], duration: float) -> None:
        for piece in pieces:
            item = {**piece.segment, "id": len(self.segments)}
            self.segments.append(item)
            plain = ({k: v for k, v in w.items() if k != "probability"} for w in piece.words)
            self.words.extend(piece.words if self.probabilities else plain)
            self.scores.extend(piece.logprobs or [])
            if self.on_segment is not None:
                self.on_segment(item, duration, piece.logprobs)

    def result(self, info, *, word_timestamps: bool, logprobs: bool) -> TranscriptionResult:
        return TranscriptionResult(
            language=info.language,
            duration=round(info.duration, 3),
            text="".join(s["text"] for s in self.segments).strip(),
            segments=self.segments,
            words=self.words if word_timestamps else None,
            logprobs=self.scores if logprobs else None,
        )


@contextlib.contextmanager
def _decoding(model, samples: np.ndarray, options: dict[str, Any], *, window_seconds, logprobs):
    """(info, the segments as guards.Piece as they come) of one faster-whisper decode."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(encoder_window(window_seconds))
        recorder = stack.enter_context(token_scores.recording(model)) if logprobs else None
        segments, info = model.transcribe(samples, **options)
        yield info, (_piece(model, segment, options, recorder) for segment in segments)


def _piece(model, segment, options: dict[str, Any], recorder) -> guards.Piece:
    words = [
        {"word": word.word.strip(), "start": round(word.start, 3), "end": round(word.end, 3)}
        | {"probability": round(word.probability, 3)}
        for word in segment.words or ()
    ]
    entries = None
    if recorder is not None:
        entries = token_scores.logprob_entries(
            model.hf_tokenizer,
            segment.tokens,
            recorder.segment_logprobs(segment.tokens),
            eot=_end_of_text(model),
        )
    return guards.Piece(_segment_dict(segment, options["temperature"][0]), words, entries)


def text_token_count(*, model_id: str, prompt: str | None, keywords: Iterable[str] = ()) -> int:
    """How many tokens the decoder is given as text: the prompt and the keywords, encoded as
    faster-whisper encodes them (its `initial_prompt` and `hotwords`, each after a space)."""
    tokenizer = get_model(model_id).hf_tokenizer
    texts = [text.strip() for text in (prompt or "", hotwords_phrase(keywords)) if text.strip()]
    return sum(len(tokenizer.encode(" " + text, add_special_tokens=False).ids) for text in texts)


def output_token_count(*, model_id: str, segments: Iterable[dict[str, Any]]) -> int:
    """The text tokens of a transcript's segments (every token from `<|endoftext|>` on is a
    timestamp or special)."""
    eot = _end_of_text(get_model(model_id))
    return sum(1 for segment in segments for token in segment["tokens"] if token < eot)


def _end_of_text(model) -> int:
    """The id of `<|endoftext|>`: every token from it on is special (timestamps included)."""
    return model.hf_tokenizer.token_to_id("<|endoftext|>")
