"""Cutting decoded audio into chunks at silences, so that long audio can be transcribed as
chunks that run in parallel, each on its own and its times offset by its start.

A cut inside a word damages the transcript on both sides of it, so cuts are made only inside
pauses that faster-whisper's bundled Silero VAD finds (the ONNX model ships in the package: no
download). A chunk is at most about one Whisper window (`max_seconds`, 30 s) wherever a pause
allows it; speech that runs on longer without a pause is not cut inside, its chunk is simply
longer (Whisper handles long audio by itself).

Pure: samples in, sample ranges out; nothing here knows jobs, settings or Django.
"""

import itertools
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np

from .constants import SAMPLE_RATE

# OpenAI's defaults for the keys a server_vad strategy leaves out (openai-openapi, VadConfig).
SERVER_VAD_DEFAULTS = {"threshold": 0.5, "silence_duration_ms": 200, "prefix_padding_ms": 300}


@dataclass(frozen=True)
class VadSettings:
    """OpenAI's `chunking_strategy` as VAD parameters.

    The defaults are what "auto" means here:
    - threshold 0.5: Silero's own recommended speech probability, and OpenAI's default.
    - silence_duration_ms 300: a cut needs a pause of at least 300 ms. On the repository's
      read speech (tests/data) Silero finds gaps of up to 130 ms inside words and 190-230 ms
      between the items of a spoken list; 300 ms keeps only phrase and sentence pauses, more
      than twice the longest gap seen inside a word. Ordinary speech has such pauses every few
      seconds, so 30 s chunks are still cut; where it has none, the chunk just runs longer,
      which costs parallelism, while a cut inside a word costs text.
    - prefix_padding_ms 300: OpenAI's default; Silero marks speech from the first 32 ms window
      above the threshold, a little after a soft onset, so the next chunk starts that much
      before it.
    A "server_vad" strategy takes its values from the request, and OpenAI's documented
    defaults (openai-openapi `VadConfig`) for the keys it leaves out.
    """

    threshold: float = 0.5  # Silero speech probability threshold (OpenAI "threshold")
    silence_duration_ms: int = 300  # shortest pause that may hold a cut ("silence_duration_ms")
    prefix_padding_ms: int = 300  # silence kept before the speech after a cut ("prefix_padding_ms")

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {self.threshold!r}")
        for name in ("silence_duration_ms", "prefix_padding_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")

    @classmethod
    def from_strategy(cls, strategy: dict[str, Any]) -> "VadSettings":
        """{"type": "auto"}: the defaults above; {"type": "server_vad", ...}: its
        threshold, silence_duration_ms and prefix_padding_ms, OpenAI's defaults for the rest.
        Anything else is a ValueError (OpenAI's VadConfig allows no other keys)."""
        kind = strategy.get("type")
        options = {key: value for key, value in strategy.items() if key != "type"}
        if kind == "auto" and not options:
            return cls()
        if kind == "server_vad":
            unknown = sorted(set(options) - set(SERVER_VAD_DEFAULTS))
            if unknown:
                raise ValueError(f"unknown server_vad parameters: {', '.join(unknown)}")
            return cls(**{**SERVER_VAD_DEFAULTS, **options})
        raise ValueError(f"unknown chunking strategy: {strategy!r}")


def chunk_bounds(
    samples: np.ndarray,
    *,
    vad: VadSettings,
    max_seconds: float = 30.0,
    sampling_rate: int = SAMPLE_RATE,
) -> list[tuple[int, int]]:
    """Contiguous sample ranges [(0, c1), (c1, c2), ..., (ck, len(samples))] that cover the
    audio, silence included (a chunk's times plus its start are the file's times).

    Audio of at most `max_seconds` is one range and the VAD does not run. Longer audio is run
    through the VAD once; cuts are made only inside pauses of at least `silence_duration_ms`
    between two stretches of speech, so every chunk holds speech (no chunk is empty or silence
    only). Each chunk is cut in the longest pause that keeps it between half of `max_seconds`
    and `max_seconds` (ties: the later), or else in the latest pause that keeps it within
    `max_seconds`, or, when speech runs on past `max_seconds` without a pause, in the first
    pause after it (that chunk is longer than `max_seconds`). When the rest of the audio fits
    in one more chunk, a pause that makes it so is preferred, so no short last chunk is made
    where it need not be.
    """
    if samples.ndim != 1:
        raise ValueError("samples must be mono (one dimension)")
    total = len(samples)
    limit = int(max_seconds * sampling_rate)
    if total <= limit:
        return [(0, total)]
    cuts = _cuts(speech_regions(samples, vad, sampling_rate), vad, sampling_rate)
    return _plan(cuts, total, limit)


def speech_regions(
    samples: np.ndarray, vad: VadSettings, sampling_rate: int = SAMPLE_RATE
) -> list[tuple[int, int]]:
    """Silero's speech regions [start, end) in samples, unpadded and unmerged (every pause is
    kept, however short: the caller chooses which may hold a cut, or what the words cover)."""
    if sampling_rate != SAMPLE_RATE:
        raise ValueError(f"the VAD runs on {SAMPLE_RATE} Hz audio, not {sampling_rate} Hz")
    # Imported here: faster_whisper pulls in ctranslate2 and friends, and short audio never
    # needs it. The model is loaded once per process (faster_whisper's get_vad_model cache)
    # and runs on one thread (SileroVADModel sets intra- and inter-op threads to 1): 10 minutes
    # of audio took 1.3-2.6 s on a shared 2-core machine (model load 0.05-0.08 s, once), with a
    # peak of about 2.3 times the audio's own memory (faster_whisper's padded and framed copies).
    from faster_whisper import vad as silero

    options = silero.VadOptions(
        threshold=vad.threshold,
        min_speech_duration_ms=0,  # a short sound still counts as speech: never cut in it
        min_silence_duration_ms=0,  # pauses are filtered by length below
        speech_pad_ms=0,  # padding is applied at the cut, not to the regions
    )
    regions = silero.get_speech_timestamps(samples, options, sampling_rate=sampling_rate)
    return [(int(region["start"]), int(region["end"])) for region in regions]


@dataclass(frozen=True)
class _Cut:
    position: int  # sample where the next chunk starts
    pause: int  # length of the pause the cut lies in, in samples


def _cuts(speech: list[tuple[int, int]], vad: VadSettings, sampling_rate: int) -> list[_Cut]:
    """One candidate cut in each pause between two speech regions that is long enough.

    The cut is at the middle of the pause, or earlier so that `prefix_padding_ms` of silence
    stays before the next speech; in a pause too short for that the speech before it still
    keeps a quarter of the pause (Silero ends speech at a 32 ms window boundary)."""
    shortest = vad.silence_duration_ms * sampling_rate // 1000
    padding = vad.prefix_padding_ms * sampling_rate // 1000
    cuts = []
    for (_, begin), (end, _) in itertools.pairwise(speech):
        pause = end - begin
        if pause <= 0 or pause < shortest:
            continue
        position = min(begin + pause // 2, end - padding)
        position = max(position, begin + pause // 4)
        cuts.append(_Cut(position=position, pause=pause))
    return cuts


def _plan(cuts: list[_Cut], total: int, limit: int) -> list[tuple[int, int]]:
    positions = [cut.position for cut in cuts]
    bounds: list[tuple[int, int]] = []
    start = 0
    while total - start > limit:
        first = bisect_right(positions, start)
        if first == len(cuts):
            break  # no pause left: the rest is one chunk
        fitting = cuts[first : bisect_right(positions, start + limit)]
        if not fitting:
            chosen = cuts[first]  # speech runs past the limit: cut at its first pause
        else:
            finishing = cuts[bisect_left(positions, total - limit) : first + len(fitting)]
            finishing = [cut for cut in finishing if cut.position > start]
            preferred = [cut for cut in fitting if cut.position - start >= limit // 2]
            candidates = finishing or preferred
            if candidates:
                chosen = max(candidates, key=lambda cut: (cut.pause, cut.position))
            else:
                chosen = fitting[-1]
        bounds.append((start, chosen.position))
        start = chosen.position
    bounds.append((start, total))
    return bounds


# --- Times in the whole ------------------------------------------------------------------------

SAMPLES_PER_FRAME = 160  # Whisper's mel frames are 10 ms: a segment's `seek` counts them


def times_moved(
    segments: list[dict], words: list[dict] | None, start_sample: int
) -> tuple[list[dict], list[dict] | None]:
    """Segments and words of a transcript of audio that starts at `start_sample`, in the
    times of the whole (a chunk's in the file's; a retake's in its window's)."""
    if start_sample == 0:
        return segments, words
    offset = start_sample / SAMPLE_RATE
    frames = start_sample // SAMPLES_PER_FRAME

    def moved(item: dict, **more: Any) -> dict:
        start, end = round(item["start"] + offset, 3), round(item["end"] + offset, 3)
        return {**item, **more, "start": start, "end": end}

    return (
        [moved(segment, seek=segment["seek"] + frames) for segment in segments],
        [moved(word) for word in words] if words is not None else None,
    )
