"""Probing an upload with PyAV: is it audio we can decode, in which container, how long.

This runs in the web process before anything is stored or queued, so it reads the container
and decodes one frame, never the whole file (the worker decodes it once, for inference).
"""

from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

import av

from ..errors import InvalidAudio, UnsupportedAudioFormat

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
    duration: float


def _extension(filename: str) -> str:
    return PurePath(filename or "").suffix.lower().lstrip(".")


def _duration(container, stream) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _duration_from_packets(container, stream) -> float:
    """Some streams (MediaRecorder webm, headerless mp3) carry no duration: demux (no decoding)."""
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.duration is not None and packet.time_base:
            end = max(end, float((packet.pts + packet.duration) * packet.time_base))
    return end


def probe(fileobj: BinaryIO, *, filename: str, size: int) -> AudioInfo:
    """Describe the upload, or raise InvalidAudio (UnsupportedAudioFormat) saying what is wrong."""
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
            duration = _duration(container, stream)
            if duration is None:
                container.seek(0)
                duration = _duration_from_packets(container, stream)
            info = AudioInfo(
                container=container.format.name, codec=stream.codec_context.name, duration=duration
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
