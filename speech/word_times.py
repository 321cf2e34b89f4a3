"""Word end times moved to where the speech ends.

Whisper's word times come from cross-attention (dynamic time warping over the decoder's
attention): the last word before a pause often ends a few hundred milliseconds before its
speech does ("conference." ended at 2.50 s, the voice at 2.91 s). Silero's VAD hears where the
speech ends, so the last word of a stretch of speech is given that end, as stable-ts does with
its silence suppression. Only ends move, only later, only to the end of the stretch the word
ends in, by at most MAX_STRETCH_SECONDS, and never past the next word or the next segment: the
words and the text stay as decoded.

Results and sample ranges in, a result out; nothing here knows jobs or Django.
"""

from bisect import bisect_right
from dataclasses import replace
from typing import Any

from .constants import SAMPLE_RATE

# Further than this from a word's end, the speech's end is more likely a word Whisper left out
# (speech/coverage.py decodes that) than this word's tail.
MAX_STRETCH_SECONDS = 0.5


def _stretch_end(seconds: float, regions: list[tuple[float, float]]) -> float | None:
    """The end of the speech region `seconds` falls in (start < seconds < end), if any."""
    index = bisect_right([start for start, _ in regions], seconds) - 1
    if index >= 0 and regions[index][0] < seconds < regions[index][1]:
        return regions[index][1]
    return None


def word_ends_at_speech(
    result: Any, regions: list[tuple[int, int]], *, sampling_rate: int = SAMPLE_RATE
) -> Any:
    """`result` with each word that is the last of its stretch of speech ending where the
    stretch does (regions: Silero's speech, sample ranges in the result's time)."""
    if not result.words or not regions:
        return result
    spans = [(start / sampling_rate, end / sampling_rate) for start, end in regions]
    words = [dict(word) for word in result.words]
    segments = [dict(segment) for segment in result.segments]
    segment_starts = [segment["start"] for segment in segments]
    changed = False
    for index, word in enumerate(words):
        speech_end = _stretch_end(word["end"], spans)
        if speech_end is None or speech_end - word["end"] > MAX_STRETCH_SECONDS:
            continue
        following = words[index + 1]["start"] if index + 1 < len(words) else None
        if following is not None and following < speech_end:
            continue  # not the stretch's last word
        # The segment the word is in ends with it; the next segment's start is a limit too.
        at = bisect_right(segment_starts, word["start"]) - 1
        limit = segment_starts[at + 1] if 0 <= at < len(segments) - 1 else speech_end
        end = min(speech_end, limit)
        if end <= word["end"]:
            continue
        word["end"] = end
        if 0 <= at < len(segments) and segments[at]["end"] < end:
            segments[at]["end"] = end
        changed = True
    if not changed:
        return result
    return replace(result, words=words, segments=segments)
