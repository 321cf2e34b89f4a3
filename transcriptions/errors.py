"""What the job services, selectors and engine refuse or report. They know no HTTP: the API's
one error table (api/errors.py) says which status, type, code and headers each one gets, and
the dashboard turns a missing job into its 404 page."""

from speech.errors import InvalidAudio, TranscriptionError, UnsupportedAudioFormat

__all__ = ["InvalidAudio", "TranscriptionError", "UnsupportedAudioFormat"]


class ModelNotFound(TranscriptionError):
    pass


class ModelCannotTranslate(TranscriptionError):
    """An English-only model asked to translate."""


class ModelLanguageUnsupported(TranscriptionError):
    """An English-only model asked for another language."""


class ModelLanguagesUnsupported(ModelLanguageUnsupported):
    """An English-only model given `languages[]` without English among them."""


class CallbackUrlRefused(TranscriptionError):
    """A callback_url whose host is, or resolves to, an address the platform must not reach."""


class QueueFull(TranscriptionError):
    pass


class StorageFull(TranscriptionError):
    """No room on the media storage for an upload: retryable once the operator frees some."""


class JobNotFound(TranscriptionError):
    """No job with this id among the tenants asked about (another tenant's is not found)."""


class JobFailed(TranscriptionError):
    """The job ended failed (engine error, worker lost, ...); `code` is the job's error code."""


class JobTimedOut(JobFailed):
    """The job ran past JOB_TIMEOUT."""


class JobCancelled(TranscriptionError):
    pass


class RequestClosed(TranscriptionError):
    """The request's client left before its job was created: the job is not created."""


class JobWaitTimeout(TranscriptionError):
    """A synchronous request waited longer than SYNC_WAIT_TIMEOUT; the job goes on."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id
