"""The real recordings the repository carries (tests/data, see its NOTICE), and clips cut from
them with PyAV. No test reads outside the checkout."""

import io
from functools import cache
from pathlib import Path

import av
import numpy as np

AUDIO_DIR = Path(__file__).resolve().parent / "data"

JFK = AUDIO_DIR / "jfk.flac"
HOTWORDS = AUDIO_DIR / "hotwords.mp3"
MULTILINGUAL = AUDIO_DIR / "multilingual.mp3"
JFK_TEXT = (
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
# multilingual.mp3 reads the MIT licence in English, then from about 30.5 s in German.
GERMAN_START = 30.5
# The German half's first sentence ends at 10.9 s; its second starts at 11.9 s.
GERMAN_SENTENCE_SECONDS = 11.3


def words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()


def encode(samples: np.ndarray, *, fmt: str = "wav", codec: str = "pcm_s16le", rate=16000) -> bytes:
    """Encode mono float samples (-1..1) into an audio file in memory."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


@cache
def german_wav() -> bytes:
    """The German half of multilingual.mp3 as 16 kHz WAV."""
    from faster_whisper.audio import decode_audio

    samples = decode_audio(str(MULTILINGUAL), sampling_rate=16000)
    return encode(samples[int(GERMAN_START * 16000) :])


@cache
def german_sentence_wav() -> bytes:
    """The German half's first sentence (11.3 s; "Jeden, der diese Software und die ...") as
    16 kHz WAV: for tests of a language option, which need German speech, not all of it."""
    from faster_whisper.audio import decode_audio

    samples = decode_audio(str(MULTILINGUAL), sampling_rate=16000)
    start = int(GERMAN_START * 16000)
    return encode(samples[start : start + int(GERMAN_SENTENCE_SECONDS * 16000)])


def silence_wav(seconds: float) -> bytes:
    return encode(np.zeros(int(seconds * 16000), dtype=np.float32))


def long_silence_flac(seconds: int) -> bytes:
    """Hours of silence in a small file (FLAC packs silence to almost nothing)."""
    buffer = io.BytesIO()
    rate = 8000
    with av.open(buffer, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        minute = np.zeros((1, rate * 60), dtype=np.int16)
        for _ in range(seconds // 60):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def lying_flac(seconds: float, claim: float, rate: int = 16000) -> bytes:
    """A real FLAC of `seconds` whose STREAMINFO claims `claim` seconds."""
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, int(seconds * rate)).astype(np.float32)
    data = bytearray(encode(noise, fmt="flac", codec="flac", rate=rate))
    assert data[:4] == b"fLaC"
    info = 8  # STREAMINFO's data, after "fLaC" and its 4-byte block header
    total = int(claim * rate)  # 36 bits: the low 4 bits of byte 13, then bytes 14-17
    data[info + 13] = (data[info + 13] & 0xF0) | ((total >> 32) & 0x0F)
    data[info + 14 : info + 18] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(data)


# Clips and pauses (seconds) of long_speech(): jfk three times, the licence read in English and
# hotwords.mp3, with pauses of 1 to 2 s between them (74 s in all: three chunks of <= 30 s).
LONG_SPEECH_PARTS = ("jfk", 2.0, "licence", 1.5, "jfk", 1.0, "hotwords", 2.0, "jfk")


@cache
def long_speech_samples() -> np.ndarray:
    from faster_whisper.audio import decode_audio

    clips = {
        "jfk": decode_audio(str(JFK), sampling_rate=16000),
        "hotwords": decode_audio(str(HOTWORDS), sampling_rate=16000),
        "licence": decode_audio(str(MULTILINGUAL), sampling_rate=16000)[
            : int((GERMAN_START - 1.0) * 16000)
        ],
    }
    return np.concatenate(
        [
            clips[part] if isinstance(part, str) else np.zeros(int(part * 16000), np.float32)
            for part in LONG_SPEECH_PARTS
        ]
    )


@cache
def long_speech_flac() -> bytes:
    """Real speech longer than one chunk, as FLAC (exactly the samples of long_speech_samples)."""
    return encode(long_speech_samples(), fmt="flac", codec="flac")


ALLISON = AUDIO_DIR / "allison.ogg"
# Phrases (seconds) of jfk.flac and allison.ogg, Silero's speech with 0.1 s either side, and
# the turns of short_turns_samples(): (voice, phrase) one after another, 0.3 s apart.
PHRASES = {
    "jfk": ((0.22, 2.34), (3.23, 4.45), (5.34, 7.72), (8.12, 10.6)),
    "allison": ((0.19, 1.54), (1.47, 7.24), (12.25, 14.18), (14.14, 15.84)),
}
SHORT_TURNS = (("jfk", 0), ("allison", 0), ("jfk", 1), ("allison", 1), ("jfk", 2))
SHORT_TURNS += (("allison", 2), ("jfk", 3), ("allison", 3))


@cache
def short_turns_samples() -> np.ndarray:
    """Two voices taking short turns in one window (about 23 s): JFK's phrases and Allison's
    sentences. tiny.en, decoding it whole, leaves out Allison's first turn,
    "Congratulations." (docs/architecture/chunks.md)."""
    from faster_whisper.audio import decode_audio

    clips = {"jfk": decode_audio(str(JFK), 16000), "allison": decode_audio(str(ALLISON), 16000)}
    pause = np.zeros(int(0.3 * 16000), np.float32)
    parts = []
    for voice, index in SHORT_TURNS:
        start, end = PHRASES[voice][index]
        parts += [clips[voice][int(start * 16000) : int(end * 16000)], pause]
    return np.concatenate(parts)
