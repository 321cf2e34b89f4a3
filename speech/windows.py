"""A shorter encoder window for live turns.

faster-whisper pads every window to Whisper's 30 s (pad_or_trim to 3000 mel frames), so a 2 s
turn costs the encoder as much as 30 s of audio, most of the turn's decode. CTranslate2's
encoder takes fewer frames; the positions past the audio are padding. A live turn's window is
cut to its length plus a margin, never under MIN_WINDOW_SECONDS: on the shipped English
clips, under about 10 s the decoder no longer finds the end of the audio and repeats
itself; from 10 s on the text was the full window's in most turns (punctuation aside).
faster-whisper has no option for it (its `chunk_length` still pads to 3000 frames), so the
model's `encode` is wrapped once, at load, and cuts only inside `encoder_window()`: every
other decode is untouched.
"""

import contextlib
import threading

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


def windowed(model) -> None:
    """Make a loaded WhisperModel's encoder honour encoder_window()."""
    encode = model.encode

    def windowed_encode(features):
        frames = getattr(_window, "frames", None)
        if frames is not None and features.shape[-1] > frames:
            features = features[..., :frames]
        return encode(features)

    model.encode = windowed_encode
