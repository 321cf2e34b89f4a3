"""Raw audio as the Realtime API sends it, to the engine's 16 kHz mono int16.

OpenAI's input formats: `audio/pcm` (16-bit little-endian, mono, 24 kHz), `audio/pcmu` (G.711
mu-law, 8 kHz) and `audio/pcma` (G.711 A-law, 8 kHz). Appends arrive in pieces of any size: a
16-bit sample split over two appends is kept until its second byte comes, and the resampler
keeps its state across appends, so that the audio is the same however the client cut it.
"""

import av
import numpy as np

from .constants import SAMPLE_RATE

INPUT_RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.uint8)
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = ((mantissa.astype(np.int32) << 3) + 0x84) << exponent
    return np.where(sign, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.uint8) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = (codes & 0x0F).astype(np.int32)
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1)
    )
    return np.where(sign, magnitude, -magnitude).astype(np.int16)


_G711 = {"audio/pcmu": _mulaw_table(), "audio/pcma": _alaw_table()}


class PcmDecoder:
    """One session's input audio: bytes in the session's format in, 16 kHz int16 out."""

    def __init__(self, audio_format: str) -> None:
        self.format = audio_format
        self.rate = INPUT_RATES[audio_format]
        self._carry = b""  # half a 16-bit sample
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def decode(self, data: bytes) -> np.ndarray:
        if self.format == "audio/pcm":
            data = self._carry + data
            whole = len(data) - len(data) % 2
            self._carry = data[whole:]
            samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.int16)
        else:
            samples = _G711[self.format][np.frombuffer(data, dtype=np.uint8)]
        if not len(samples):
            return np.zeros(0, dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.int16) if out else np.zeros(0, dtype=np.int16)
