"""What a live session is set to, and what it tells its client, as plain data. The session
(session.py) knows no wire format: api/realtime/protocol.py parses OpenAI's client events into
SessionSettings and the session's calls, and gives these events OpenAI's shapes."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from speech.turns import VadSettings

from .services.turn_jobs import LiveTranscription


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True)
class SessionSettings:
    audio_format: str = "audio/pcm"
    transcription: LiveTranscription = field(default_factory=LiveTranscription)
    # OpenAI's default for a transcription session: server VAD.
    vad: VadSettings | None = field(default_factory=VadSettings)


# How the layer above answers a refused turn (QuotaExceeded, TooManyJobs, ...): its status
# code and error code, which the turn's usage row records. This app knows no HTTP.
RefusalCodes = Callable[[Exception], tuple[int, str]]


@dataclass(frozen=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True)
class Committed:
    """A turn (item) was committed and is being transcribed."""

    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True)
class Delta:
    """More of a turn's text: interim text (previews), or its job's as it decodes."""

    item_id: str
    text: str
    logprobs: list | None = None  # only with `include: logprobs` (the job's, never a preview's)


@dataclass(frozen=True)
class Completed:
    item_id: str
    transcript: str
    seconds: float
    logprobs: list | None = None


@dataclass(frozen=True)
class TurnFailed:
    """The turn has no transcript: its job failed, or a fault met it (`error`, a domain error
    or any exception)."""

    item_id: str
    error: Exception


@dataclass(frozen=True)
class TurnRefused:
    """The turn was refused when committed (over quota, too many jobs, a full queue)."""

    item_id: str
    error: Exception


Event = SpeechStarted | SpeechStopped | Committed | Delta | Completed | TurnFailed | TurnRefused
