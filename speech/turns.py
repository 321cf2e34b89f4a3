"""Turn detection for live audio (OpenAI's `server_vad`): where speech starts and stops in a
stream of 16 kHz samples, with faster-whisper's Silero VAD (the model `chunking.py` cuts files
with), run frame by frame as the audio arrives.

Silero scores each 32 ms frame (512 samples, with the 64 samples before it as context) and
carries its recurrent state from frame to frame, so feeding it the stream in pieces gives the
same scores as feeding it the whole. A turn starts at the first frame at or above `threshold`
(its audio begins `prefix_padding_ms` earlier) and stops once the scores have stayed below
`threshold - 0.15` for `silence_duration_ms` (Silero's own hysteresis, as in
faster-whisper's `get_speech_timestamps`).
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

from .constants import SAMPLE_RATE

FRAME = 512
CONTEXT = 64
# A turn shorter than this is a click or a cough, not speech: it is dropped, never transcribed.
MIN_SPEECH_MS = 250


@dataclass(frozen=True)
class VadSettings:
    """OpenAI's server_vad parameters (its defaults)."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500


@dataclass(frozen=True)
class SpeechStarted:
    start_sample: int  # where the turn's audio starts (prefix padding included), stream time


@dataclass(frozen=True)
class SpeechStopped:
    start_sample: int
    end_sample: int  # where the silence that ended it was noticed, stream time


@cache
def _silero():
    from faster_whisper.vad import get_vad_model

    return get_vad_model().session


class TurnDetector:
    """Feed it samples as they arrive; it answers the turn boundaries found in them. Sample
    positions are counted from the start of the stream."""

    def __init__(self, settings: VadSettings) -> None:
        self.settings = settings
        self._session = _silero()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames = 0  # frames scored so far
        self._speech_start: int | None = None  # first speech frame of the current turn
        self._last_speech = 0  # end (sample) of the last frame scored as speech

    @property
    def in_speech(self) -> bool:
        return self._speech_start is not None

    def _scores(self, samples: np.ndarray) -> np.ndarray:
        audio = np.concatenate([self._pending, samples.astype(np.float32) / 32768.0])
        whole = len(audio) - len(audio) % FRAME
        self._pending = audio[whole:]
        if not whole:
            return np.zeros(0, dtype=np.float32)
        frames = audio[:whole].reshape(-1, FRAME)
        contexts = np.vstack([self._context, frames[:-1, -CONTEXT:]])
        self._context = frames[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, frames], axis=1)
        scores, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        return scores

    def feed(self, samples: np.ndarray) -> list[SpeechStarted | SpeechStopped]:
        events: list[SpeechStarted | SpeechStopped] = []
        low = max(0.01, self.settings.threshold - 0.15)
        silence = self.settings.silence_duration_ms * SAMPLE_RATE // 1000
        prefix = self.settings.prefix_padding_ms * SAMPLE_RATE // 1000
        for score in self._scores(samples):
            start, end = self._frames * FRAME, (self._frames + 1) * FRAME
            self._frames += 1
            if score >= self.settings.threshold:
                if self._speech_start is None:
                    self._speech_start = start
                    events.append(SpeechStarted(start_sample=max(0, start - prefix)))
                self._last_speech = end
            elif (
                self._speech_start is not None
                and score < low
                and end - self._last_speech >= silence
            ):
                turn_start = max(0, self._speech_start - prefix)
                if self._last_speech - self._speech_start >= MIN_SPEECH_MS * SAMPLE_RATE // 1000:
                    events.append(SpeechStopped(start_sample=turn_start, end_sample=end))
                else:
                    events.append(SpeechStopped(start_sample=turn_start, end_sample=-1))
                self._speech_start = None
        return events
