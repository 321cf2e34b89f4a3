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
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from . import fallback, guards
from . import logprobs as token_scores
from .config import current
from .constants import SAMPLE_RATE
from .registry import model_directory, registry
from .transcript import Transcript, TranscriptionResult
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
    seeded_budget: fallback.SeededBudget | None = None,
) -> TranscriptionResult:
    """Run Whisper on one file; `on_segment(segment, duration, logprobs)` sees each segment as
    it comes (`logprobs`: its tokens' entries, or None when they were not asked for). Every
    segment goes through the guards first (speech/guards.py).

    Live turns only: `prefix`, text the first window's transcript must start with (the words a
    live turn already sent as deltas: faster-whisper's `prefix`, which the text includes);
    `window_seconds`, the encoder window (encoder_window); `quick`, one greedy decode at
    temperature 0, without beam search or Whisper's fallback ladder (a preview, replaced by the
    turn's own text anyway); `word_probabilities`, each word's probability in its dict (a
    preview's, live.services.preview_decoding; no response shows them).

    The same audio and options give the same text every time: each file is decoded at
    temperature 0 with beam search (nothing drawn at random), and only the windows that miss
    Whisper's thresholds are sampled, seeded, within `seeded_budget` (speech/fallback.py; by
    default one for this audio alone); a caller's temperature samples the whole file, seeded."""
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
    out = Transcript(on_segment, probabilities=word_probabilities)
    detected = [language]
    duration = len(samples) / SAMPLE_RATE
    budget = seeded_budget or fallback.SeededBudget.for_audio(duration)

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

    def redo(held: list[guards.Piece], start: float, end: float, before: list[int]):
        # The guards drop text where the VAD hears no speech, whatever the ladder would write.
        if not guard.heard({"start": start, "end": end}):
            return held
        if not budget.take(start, end):
            logger.info("window %.1f-%.1f s: over the seeded budget, kept at 0", start, end)
            return held
        began = time.process_time()
        again = {**options, "language": detected[0], "initial_prompt": before or None}
        if start > 0:
            again.pop("prefix", None)
        # faster-whisper's prompt: previous text and hotwords (each at most half the decoder's
        # length), the prefix, a few special tokens.
        half = fallback.MAX_LENGTH // 2 - 1
        extra = " ".join(again.get(k) or "" for k in ("hotwords", "prefix"))
        bound = min(len(before), half) + len(_prompt_tokens(model, extra)) + 8
        again["max_new_tokens"] = fallback.token_cap(end - start, bound)
        piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        with _seeded(model_id, piece, again, window_seconds, logprobs) as (_, found):
            pieces = [guards.moved(p, start) for p in found]
        logger.info(
            "window %.1f-%.1f s sampled (seeded): %.2f s of CPU",
            start,
            end,
            time.process_time() - began,
        )
        return pieces

    sampled = options["temperature"][0] > 0  # the caller's temperature: all of it, as asked
    ladder = fallback.Windows(
        ladder=len(options["temperature"]) > 1,
        redo=redo,
        duration=duration,
        prompt=_prompt_tokens(model, prompt),
    )
    first = {**options, "temperature": [0.0]}
    with (
        _seeded(model_id, samples, options, window_seconds, logprobs)
        if sampled
        else _decoding(model, samples, first, window_seconds=window_seconds, logprobs=logprobs)
    ) as (info, found):
        detected[0] = info.language
        for piece in found:
            for kept in [piece] if sampled else ladder.feed(piece):
                out.add(guard.check(kept), info.duration)
        for kept in ladder.close():
            out.add(guard.check(kept), info.duration)
    return out.result(info, word_timestamps=word_timestamps, logprobs=logprobs)


@contextlib.contextmanager
def _seeded(model_id: str, samples: np.ndarray, options: dict[str, Any], window_seconds, logprobs):
    """_decoding on a model loaded for it and seeded from the audio and the options."""
    seed = guards.seed_for(samples, model_id=model_id, window=window_seconds, **options)
    with guards.seeded(seed):
        fresh = _load(model_id)
        with _decoding(
            fresh, samples, options, window_seconds=window_seconds, logprobs=logprobs
        ) as (
            info,
            found,
        ):
            yield info, found


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


def _prompt_tokens(model, prompt: str | None) -> list[int]:
    """The tokens faster-whisper starts a decode's previous text with (its `initial_prompt`)."""
    if not prompt:
        return []
    return model.hf_tokenizer.encode(" " + prompt.strip(), add_special_tokens=False).ids


def _end_of_text(model) -> int:
    """The id of `<|endoftext|>`: every token from it on is special (timestamps included)."""
    return model.hf_tokenizer.token_to_id("<|endoftext|>")
