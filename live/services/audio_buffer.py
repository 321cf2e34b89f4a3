"""A live session's input audio buffer: what the client appended since the last commit, and,
with server VAD, where its turns start and stop.

OpenAI's semantics: `append` adds audio to the buffer; `commit` makes the buffer a turn (an
item) and empties it; `clear` throws it away. With `server_vad` the server commits: a turn
starts `prefix_padding_ms` before the first speech and is committed once `silence_duration_ms`
of silence has followed it; audio before a turn (silence) is dropped, never transcribed or
billed. Times are milliseconds of the session's audio, counted from its first append.
"""

from dataclasses import dataclass

import numpy as np

from speech import SAMPLE_RATE
from speech.pcm import INPUT_RATES, PcmDecoder
from speech.turns import SpeechStarted, SpeechStopped, TurnDetector, VadSettings

# OpenAI refuses to commit less than this ("buffer too small").
MIN_COMMIT_MS = 100


@dataclass(frozen=True)
class TurnStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class TurnStopped:
    audio_end_ms: int
    samples: np.ndarray | None  # None: too short to be speech, dropped


class BufferTooSmall(Exception):
    def __init__(self, buffered_ms: float) -> None:
        super().__init__(buffered_ms)
        self.buffered_ms = buffered_ms


class BufferFull(Exception):
    """Client commits: the buffer holds as much audio as one turn may have."""

    def __init__(self, max_seconds: float) -> None:
        super().__init__(max_seconds)
        self.max_seconds = max_seconds


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


class LiveAudioBuffer:
    def __init__(self, *, audio_format: str = "audio/pcm", vad: VadSettings | None) -> None:
        self._decoder = PcmDecoder(audio_format)
        self._detector = TurnDetector(vad) if vad is not None else None
        self._chunks: list[np.ndarray] = []
        self._start = 0  # stream position of the buffer's first sample
        self._end = 0  # stream position after its last sample
        self._origin = 0  # stream position where the current detector started listening

    @staticmethod
    def formats() -> tuple[str, ...]:
        return tuple(INPUT_RATES)

    def reconfigure(self, *, audio_format: str, vad: VadSettings | None) -> None:
        """New settings from session.update: the buffer is kept, the format and VAD change."""
        if audio_format != self._decoder.format:
            self._decoder = PcmDecoder(audio_format)
        if vad is None:
            self._detector = None
        elif self._detector is None or self._detector.settings != vad:
            self._detector = TurnDetector(vad)
            self._origin = self._end

    @property
    def buffered_samples(self) -> int:
        return self._end - self._start

    @property
    def in_speech(self) -> bool:
        return self._detector is not None and self._detector.in_speech

    def peek(self) -> np.ndarray:
        """A copy of what the buffer holds (the turn so far, with server VAD), left in it."""
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)

    def _take(self, start: int, end: int) -> np.ndarray:
        """The samples [start, end) of the stream out of the buffer; what is before `end` is
        dropped from it."""
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        begin = max(0, start - self._start)
        taken = audio[begin : max(begin, end - self._start)]
        rest = audio[max(0, end - self._start) :]
        self._chunks = [rest] if len(rest) else []
        self._start = max(self._start, end)
        return taken

    def append(self, data: bytes, *, max_samples: int) -> list[TurnStarted | TurnStopped]:
        samples = self._decoder.decode(data)
        self._chunks.append(samples)
        self._end += len(samples)
        if self._detector is None:
            if self.buffered_samples > max_samples:
                self._end -= len(samples)
                self._chunks.pop()
                raise BufferFull(max_samples / SAMPLE_RATE)
            return []
        origin = self._origin
        events: list[TurnStarted | TurnStopped] = []
        for found in self._detector.feed(samples):
            if isinstance(found, SpeechStarted):
                start = found.start_sample + origin
                # Nothing before the turn is kept: silence is not transcribed or billed.
                self._take(self._start, max(self._start, start))
                events.append(TurnStarted(audio_start_ms=_ms(max(start, self._start))))
            elif isinstance(found, SpeechStopped):
                end = found.end_sample + origin if found.end_sample >= 0 else -1
                if end < 0:
                    self._take(self._start, self._end)
                    events.append(TurnStopped(audio_end_ms=_ms(self._end), samples=None))
                else:
                    turn = self._take(self._start, end)
                    events.append(TurnStopped(audio_end_ms=_ms(end), samples=turn))
        if not self.in_speech and self._detector is not None:
            # Between turns only the prefix padding can ever be needed.
            keep = self._detector.settings.prefix_padding_ms * SAMPLE_RATE // 1000 + 1024
            if self.buffered_samples > keep:
                self._take(self._start, self._end - keep)
        elif self.buffered_samples >= max_samples:
            # A turn as long as a job may be: committed now, the speech goes on in the next.
            end = self._end
            events.append(TurnStopped(audio_end_ms=_ms(end), samples=self._take(self._start, end)))
            events.append(TurnStarted(audio_start_ms=_ms(end)))
        return events

    def commit(self) -> np.ndarray:
        """The whole buffer as a turn (the client's commit); BufferTooSmall under 100 ms."""
        if _ms(self.buffered_samples) < MIN_COMMIT_MS:
            raise BufferTooSmall(self.buffered_samples * 1000 / SAMPLE_RATE)
        return self._take(self._start, self._end)

    def clear(self) -> None:
        self._take(self._start, self._end)
