"""What the engine refuses. The job services re-export these (transcriptions/errors.py), so the
API's one error table maps them as it maps every other refusal."""


class TranscriptionError(Exception):
    def __init__(
        self, message: str, *, code: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # where one class covers several outcomes (a job's error code)
        self.retry_after = retry_after


class InvalidAudio(TranscriptionError):
    """Empty, truncated, undecodable, or without an audio track."""


class UnsupportedAudioFormat(InvalidAudio):
    """Not one of the containers the API accepts."""
