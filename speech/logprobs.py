"""OpenAI's `include[]=logprobs`: the log probability of each token of the transcript, from
faster-whisper's own model, without forking faster-whisper.

faster-whisper decodes each 30 s window with CTranslate2's `Whisper.generate(...,
return_scores=True)`, which gives only the kept sequence's cumulated score (its segments'
`avg_logprob`). Per-step log probabilities (`return_logits_vocab=True`) exist for greedy and
sampled decoding only: for beam search (the platform's decode at temperature 0, beam 5)
CTranslate2 returns none. So each window's kept tokens are scored once more, teacher-forced,
by CTranslate2's `Whisper.align` (the pass faster-whisper runs for `Word.probability`): the
decoder reads the window's exact prompt (previous text, `prompt`, `keywords`) and tokens
(timestamps included) over the same encoder output, and gives each text token its
probability there, over the text tokens (timestamps masked out). Those are the values, as
natural logs. They are per token, not per word, and deterministic; they differ from the beam's
own step scores only by the mass of the timestamp and suppressed tokens.

On a model that has served a logprobs request, `WhisperModel.generate_with_fallback` (one
window, with Whisper's temperature fallback) is wrapped: when the calling thread records, the
result it kept is scored as above. Every segment faster-whisper yields is a run of its
window's tokens, so the recorder gives each segment its tokens' values. The decode itself is
never touched: `generate` gets exactly the arguments faster-whisper gives it.
"""

import logging
import math
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

_local = threading.local()
_install_lock = threading.Lock()
# Mel frames of a window: the alignment part of `align` needs a count; the values do not.
WINDOW_FRAMES = 3000
# The floor of a text token's probability (float32's smallest normal): -inf is not JSON.
MIN_PROBABILITY = 1.2e-38


class Recorder:
    """The window being decoded on this thread: its tokens and their log probabilities."""

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.logprobs: list[float | None] = []
        self.cursor = 0

    def window_decoded(self, whisper: Any, encoder_output: Any, prompt: list[int], result) -> None:
        """Score the window's kept tokens (`whisper`: the model's CTranslate2 Whisper)."""
        self.tokens = list(result.sequences_ids[0])
        self.logprobs = token_logprobs(whisper, encoder_output, prompt, self.tokens)
        self.cursor = 0

    def segment_logprobs(self, tokens: Sequence[int]) -> list[float | None] | None:
        """The log probabilities of a segment's tokens (a run of the window's, after the
        segments before it); None if the run is not found (never expected)."""
        tokens = list(tokens)
        size = len(tokens)
        for start in range(self.cursor, len(self.tokens) - size + 1):
            if self.tokens[start : start + size] == tokens:
                self.cursor = start + size
                return self.logprobs[start : start + size]
        logger.warning("logprobs: a segment's tokens were not found in its window")
        return None


def token_logprobs(
    whisper: Any, encoder_output: Any, prompt: list[int], tokens: list[int]
) -> list[float | None]:
    """Each token's log probability, teacher-forced after `prompt` (None for tokens that are
    not text: timestamps and special tokens, which `align` gives no probability)."""
    if not tokens:
        return []
    try:
        alignment = whisper.align(encoder_output, list(prompt), [tokens], WINDOW_FRAMES)[0]
    except Exception:  # a window it cannot score costs the values, never the transcript
        logger.warning("logprobs: scoring a window failed", exc_info=True)
        return [None] * len(tokens)
    values: list[float | None] = [
        math.log(max(float(probability), MIN_PROBABILITY)) if probability > 0 else None
        for probability in list(alignment.text_token_probs)[: len(tokens)]
    ]
    return values + [None] * (len(tokens) - len(values))


# --- The wrapper ----------------------------------------------------------------------------------


def _recording(model: Any, generate_with_fallback):
    def wrapper(encoder_output, prompt, *args: Any, **kwargs: Any):
        decoded = generate_with_fallback(encoder_output, prompt, *args, **kwargs)
        recorder = getattr(_local, "recorder", None)
        if recorder is not None:
            recorder.window_decoded(model.model, encoder_output, prompt, decoded[0])
        return decoded

    wrapper.__wrapped__ = generate_with_fallback
    return wrapper


def install(model: Any) -> None:
    """Make a loaded WhisperModel able to record its tokens' log probabilities (once)."""
    if getattr(model, "_logprobs_installed", False):
        return
    with _install_lock:
        if getattr(model, "_logprobs_installed", False):
            return
        model.generate_with_fallback = _recording(model, model.generate_with_fallback)
        model._logprobs_installed = True


@contextmanager
def recording(model: Any):
    """While inside, this thread's decodes on `model` record their tokens' log probabilities:
    the Recorder yielded gives each segment's."""
    install(model)
    recorder = Recorder()
    # A decode inside another (the guards' retake) records its own, then gives the outer back.
    previous, _local.recorder = getattr(_local, "recorder", None), recorder
    try:
        yield recorder
    finally:
        _local.recorder = previous


# --- Tokens as OpenAI shows them ------------------------------------------------------------------


@cache
def _byte_decoder() -> dict[str, int]:
    """The byte-level BPE alphabet (GPT-2's, which Whisper's tokenizer uses): character ->
    the byte it stands for."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


def token_bytes(hf_tokenizer: Any, token_id: int) -> bytes:
    piece = hf_tokenizer.id_to_token(token_id) or ""
    decoder = _byte_decoder()
    return bytes(decoder[char] for char in piece if char in decoder)


def logprob_entries(
    hf_tokenizer: Any,
    tokens: Sequence[int],
    logprobs: Sequence[float | None] | None,
    *,
    eot: int,
) -> list[dict[str, Any]]:
    """OpenAI's `logprobs` items ({"token", "bytes", "logprob"}) of a segment's text tokens.
    A character split over two tokens shows as U+FFFD in each token's text; `bytes` are
    exact."""
    entries = []
    for index, token_id in enumerate(tokens):
        if token_id >= eot:  # timestamps, end of text, and the other special tokens
            continue
        raw = token_bytes(hf_tokenizer, token_id)
        logprob = logprobs[index] if logprobs is not None and index < len(logprobs) else None
        entries.append(
            {
                "token": raw.decode("utf-8", errors="replace"),
                "bytes": list(raw),
                "logprob": float(f"{logprob:.7g}") if logprob is not None else None,
            }
        )
    return entries
