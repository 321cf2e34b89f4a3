"""faster-whisper behind a small interface: the per-process model cache and one `transcribe`
call with the platform's decode settings.

Each worker process loads a model once and keeps it; loading takes far longer than a short
clip's inference, so it must never happen per job.
"""

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

from . import logprobs as token_scores
from .config import current
from .registry import model_directory, registry

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
            from faster_whisper import WhisperModel

            spec = registry()[model_id]
            device, compute_type = compute_device()
            _models[model_id] = WhisperModel(
                str(model_directory(spec)),
                device=device,
                compute_type=spec.compute_type or compute_type,
                cpu_threads=current().cpu_threads,
                num_workers=1,
            )
            _windowed(_models[model_id])
            logger.info("loaded model %s on %s (%s)", model_id, device, compute_type)
        return _models[model_id]


# --- A shorter encoder window (live turns) ---------------------------------------------------
#
# faster-whisper pads every window to Whisper's 30 s (pad_or_trim to 3000 mel frames), so a 2 s
# turn costs the encoder as much as 30 s of audio, most of the turn's decode. CTranslate2's
# encoder takes fewer frames; the positions past the audio are padding. A live turn's window is
# cut to its length plus a margin, never under MIN_WINDOW_SECONDS: on the shipped English
# clips, under about 10 s the decoder no longer finds the end of the audio and repeats
# itself; from 10 s on the text was the full window's in most turns (punctuation aside).
# faster-whisper has no option for it (its
# `chunk_length` still pads to 3000 frames), so the model's `encode` is wrapped once, at load,
# and cuts only inside `encoder_window()`: every other decode is untouched.
MIN_WINDOW_SECONDS = 10
FULL_WINDOW_SECONDS = 30
WINDOW_MARGIN_SECONDS = 1.0
FRAMES_PER_SECOND = 100
_window = threading.local()


def window_seconds_for(duration: float) -> int:
    """The encoder window for audio of `duration` seconds: its length and a margin, rounded up
    to 5 s, at least MIN_WINDOW_SECONDS; 30 (Whisper's own) when it would be as long."""
    seconds = int(-(-(duration + WINDOW_MARGIN_SECONDS) // 5) * 5)
    return min(FULL_WINDOW_SECONDS, max(MIN_WINDOW_SECONDS, seconds))


@contextlib.contextmanager
def encoder_window(seconds: int | None):
    """Decodes on this thread see only the first `seconds` of each 30 s window."""
    previous = getattr(_window, "frames", None)
    _window.frames = seconds * FRAMES_PER_SECOND if seconds else None
    try:
        yield
    finally:
        _window.frames = previous


def _windowed(model) -> None:
    encode = model.encode

    def windowed_encode(features):
        frames = getattr(_window, "frames", None)
        if frames is not None and features.shape[-1] > frames:
            features = features[..., :frames]
        return encode(features)

    model.encode = windowed_encode


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


def _segment_dict(index: int, segment, temperature_default: float) -> dict[str, Any]:
    return {
        "id": index,  # OpenAI numbers segments from 0; faster-whisper from 1
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
    audio: str | BinaryIO,
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
) -> TranscriptionResult:
    """Run Whisper on one file; `on_segment(segment, duration, logprobs)` sees each segment as
    it comes (`logprobs`: its tokens' entries, or None when they were not asked for).

    Live turns only: `prefix`, text the first window's transcript must start with (the words a
    live turn already sent as deltas: faster-whisper's `prefix`, which the text includes);
    `window_seconds`, the encoder window (encoder_window); `quick`, one greedy decode at
    temperature 0, without beam search or Whisper's fallback ladder (a preview, replaced by the
    turn's own text anyway)."""
    model = get_model(model_id)
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
    with contextlib.ExitStack() as stack:
        stack.enter_context(encoder_window(window_seconds))
        recorder = stack.enter_context(token_scores.recording(model)) if logprobs else None
        segments_iter, info = model.transcribe(audio, **options)
        segments: list[dict[str, Any]] = []
        words: list[dict[str, Any]] = []
        scores: list[dict[str, Any]] = []
        for segment in segments_iter:
            item = _segment_dict(len(segments), segment, options["temperature"][0])
            segments.append(item)
            for word in segment.words or ():
                words.append(
                    {
                        "word": word.word.strip(),
                        "start": round(word.start, 3),
                        "end": round(word.end, 3),
                    }
                )
            entries = None
            if recorder is not None:
                entries = token_scores.logprob_entries(
                    model.hf_tokenizer,
                    segment.tokens,
                    recorder.segment_logprobs(segment.tokens),
                    eot=_end_of_text(model),
                )
                scores.extend(entries)
            if on_segment is not None:
                on_segment(item, info.duration, entries)
    return TranscriptionResult(
        language=info.language,
        duration=round(info.duration, 3),
        text="".join(s["text"] for s in segments).strip(),
        segments=segments,
        words=words if word_timestamps else None,
        logprobs=scores if logprobs else None,
    )


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
