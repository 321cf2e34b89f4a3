"""Probing an upload with PyAV: is it audio we can decode, in which container, how long.

This runs in the web process before anything is stored or queued, so it decodes one frame,
never the whole file (the worker decodes it once, for inference). How long is measured from the
audio packets themselves (engine/limits.py), not taken from the header, which a hostile file
fills with whatever it likes; the header's figure is kept only to word an error message.
"""

from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

import av

from .errors import InvalidAudio, UnsupportedAudioFormat
from .limits import duration_measure

SUPPORTED_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
# FFmpeg demuxer names behind those formats (`mov` covers mp4/m4a, `matroska` covers webm).
SUPPORTED_CONTAINERS = {
    "flac",
    "mp3",
    "mov",
    "mp4",
    "m4a",
    "ogg",
    "wav",
    "matroska",
    "webm",
    "mpeg",
}

MSG_EMPTY = "The audio file is empty."
MSG_UNDECODABLE = "Audio file might be corrupted or unsupported."
MSG_NO_AUDIO = "The file has no audio track."
MSG_INVALID_FORMAT = f"Invalid file format. Supported formats: {list(SUPPORTED_EXTENSIONS)}"


@dataclass(frozen=True)
class AudioInfo:
    container: str
    codec: str
    duration: float  # measured from the packets (at most a little past `stop_after`)
    declared: float | None = None  # what the header says, for messages only
    truncated: bool = False  # measuring stopped past `stop_after`: longer still


def _extension(filename: str) -> str:
    return PurePath(filename or "").suffix.lower().lstrip(".")


def _declared(container, stream) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def probe(
    fileobj: BinaryIO, *, filename: str, size: int, stop_after: float | None = None
) -> AudioInfo:
    """Describe the upload, or raise InvalidAudio (UnsupportedAudioFormat) saying what is wrong.
    Measuring stops once past `stop_after` seconds (the plan's limit): the file is refused then,
    and hours of audio in a small file cost no more than the limit to measure."""
    if size == 0:
        raise InvalidAudio(MSG_EMPTY)
    extension_ok = _extension(filename) in SUPPORTED_EXTENSIONS
    fileobj.seek(0)
    try:
        with av.open(fileobj, mode="r", metadata_errors="ignore") as container:
            format_names = set(container.format.name.split(","))
            if not format_names & SUPPORTED_CONTAINERS:
                raise UnsupportedAudioFormat(MSG_INVALID_FORMAT)
            if not container.streams.audio:
                raise InvalidAudio(MSG_NO_AUDIO)
            stream = container.streams.audio[0]
            # One decoded frame proves the codec works on this data; the rest is the worker's.
            next(container.decode(stream), None)
            duration = duration_measure(container, stream, stop_after=stop_after)
            info = AudioInfo(
                container=container.format.name,
                codec=stream.codec_context.name,
                duration=duration,
                declared=_declared(container, stream),
                truncated=stop_after is not None and duration > stop_after,
            )
    except InvalidAudio:
        raise
    except (av.FFmpegError, ValueError, StopIteration, UnicodeDecodeError) as exc:
        if not extension_ok:
            raise UnsupportedAudioFormat(MSG_INVALID_FORMAT) from exc
        raise InvalidAudio(MSG_UNDECODABLE) from exc
    finally:
        fileobj.seek(0)
    if info.duration <= 0:
        raise InvalidAudio(MSG_UNDECODABLE)
    return info
