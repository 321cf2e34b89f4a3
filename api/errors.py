"""Every failure of the API in OpenAI's envelope, from one place.

Clients built for OpenAI parse `{"error": {"message", "type", "param", "code"}}` and map the
status to an exception class; a Django HTML page or a stack trace would break them. The
services, selectors and the engine raise domain errors that know no HTTP; DOMAIN_ERRORS below
is the one table that says how each is answered. ApiError is for what only the HTTP surface
knows (a bad query parameter, an oversized body, a serializer's first error).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

from accounts.errors import ApiKeyNotFound
from billing import errors as billing
from ops.outages import RETRY_AFTER_SECONDS, is_outage
from transcriptions import errors as transcriptions

logger = logging.getLogger(__name__)

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION_ERROR = "invalid_request_error"
SERVER_ERROR = "server_error"


class ApiError(Exception):
    """A failure the client should see, with OpenAI's status, type, code and param."""

    status_code = status.HTTP_400_BAD_REQUEST
    type = INVALID_REQUEST

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if type is not None:
            self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def error_response(error: ApiError) -> JsonResponse:
    """The same envelope for code paths outside DRF (middleware, 404/500 handlers)."""
    response = JsonResponse(error.as_dict(), status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _from_drf(exc: drf_exceptions.APIException) -> ApiError:
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        return ApiError(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            status_code=401,
            code="invalid_api_key",
        )
    if isinstance(exc, drf_exceptions.AuthenticationFailed):
        return ApiError(str(exc.detail), status_code=401, code="invalid_api_key")
    if isinstance(exc, drf_exceptions.ParseError):
        return ApiError(
            f"Could not parse multipart form: {exc.detail}", status_code=400, code="invalid_request"
        )
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return ApiError(
            "Unsupported Content-Type: send the request as multipart/form-data.",
            status_code=415,
            code="unsupported_media_type",
        )
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return ApiError(str(exc.detail), status_code=405, code="method_not_allowed")
    if isinstance(exc, drf_exceptions.NotFound):
        return ApiError(str(exc.detail), status_code=404, code="not_found")
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return ApiError(str(exc.detail), status_code=403, code="permission_denied")
    if isinstance(exc, drf_exceptions.Throttled):
        wait = int(exc.wait or 1)
        return ApiError(
            str(exc.detail),
            status_code=429,
            code="rate_limit_exceeded",
            type="requests",
            headers={"Retry-After": str(wait)},
        )
    if isinstance(exc, drf_exceptions.ValidationError):
        return validation_error(exc.detail)
    return ApiError(str(exc.detail), status_code=exc.status_code, code=exc.default_code)


def validation_error(detail: Any) -> ApiError:
    """The first field error of a serializer, with the field as `param`.

    A nested field's error (a dict under the field, e.g. from `chunking_strategy`) names the
    nested field the way OpenAI does: `param` is the dotted path, `chunking_strategy.threshold`.
    """
    if isinstance(detail, dict) and detail:
        field, messages = next(iter(detail.items()))
        while isinstance(messages, dict) and messages:
            key, messages = next(iter(messages.items()))
            field = f"{field}.{key}"
        message = messages[0] if isinstance(messages, list) and messages else messages
        code = getattr(message, "code", None) or "invalid_value"
        param = None if field == "non_field_errors" else field
        return ApiError(str(message), code=code, param=param)
    if isinstance(detail, list) and detail:
        return ApiError(str(detail[0]), code=getattr(detail[0], "code", "invalid_value"))
    return ApiError(str(detail), code="invalid_value")


# --- Domain errors -> OpenAI's answers ------------------------------------------------------------


def _retry_after(exc: Exception) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}


@dataclass(frozen=True)
class Answer:
    """How the API answers one kind of domain error. `code=None`: the error's own code."""

    status: int
    code: str | None
    type: str = INVALID_REQUEST
    param: str | None = None
    headers: Callable[[Any], dict[str, str]] = field(default=lambda exc: {})


DOMAIN_ERRORS: dict[type[Exception], Answer] = {
    # The plan (billing)
    billing.QuotaExceeded: Answer(
        429,
        "insufficient_quota",
        type="insufficient_quota",
        # Waiting a few seconds does not bring quota back: tell clients (the openai SDK
        # included) not to retry, and when it would make sense.
        headers=lambda exc: {**_retry_after(exc), "x-should-retry": "false"},
    ),
    billing.TooManyJobs: Answer(429, "rate_limit_exceeded", type="requests", headers=_retry_after),
    billing.RateLimited: Answer(429, "rate_limit_exceeded", type="requests", headers=_retry_after),
    billing.AudioTooLong: Answer(400, "audio_too_long", param="file"),
    billing.IdempotencyKeyTooLong: Answer(400, "invalid_value"),
    billing.IdempotencyKeyReused: Answer(400, "idempotency_key_reused"),
    billing.IdempotencyKeyInUse: Answer(409, "idempotency_key_in_use", headers=_retry_after),
    # Models, audio, the queue, jobs (transcriptions)
    transcriptions.ModelNotFound: Answer(404, "model_not_found", param="model"),
    transcriptions.ModelCannotTranslate: Answer(400, "unsupported_model", param="model"),
    transcriptions.ModelLanguageUnsupported: Answer(400, "unsupported_language", param="language"),
    transcriptions.ModelLanguagesUnsupported: Answer(
        400, "unsupported_language", param="languages"
    ),
    transcriptions.UnsupportedAudioFormat: Answer(400, "unsupported_value", param="file"),
    transcriptions.InvalidAudio: Answer(400, "invalid_value", param="file"),
    transcriptions.CallbackUrlRefused: Answer(400, "invalid_value", param="callback_url"),
    transcriptions.QueueFull: Answer(503, "queue_full", type=SERVER_ERROR, headers=_retry_after),
    # 507 Insufficient Storage: a 5xx, which clients built for OpenAI retry after Retry-After.
    transcriptions.StorageFull: Answer(
        507, "insufficient_storage", type=SERVER_ERROR, headers=_retry_after
    ),
    transcriptions.JobNotFound: Answer(404, "job_not_found"),
    transcriptions.JobTimedOut: Answer(504, None, type=SERVER_ERROR),
    transcriptions.JobFailed: Answer(500, None, type=SERVER_ERROR),
    transcriptions.JobCancelled: Answer(409, "job_cancelled"),
    # Nobody reads it (the client left); the usage log has the request's row already.
    transcriptions.RequestClosed: Answer(499, "client_closed_request"),
    # The job goes on and is billed once: a retry would start (and bill) another one, so the
    # openai SDK (which retries a 5xx twice) is told not to, and where to find the job.
    transcriptions.JobWaitTimeout: Answer(
        504,
        "timeout",
        type=SERVER_ERROR,
        headers=lambda exc: {"x-job-id": exc.job_id, "x-should-retry": "false"},
    ),
    ApiKeyNotFound: Answer(404, "not_found"),
}


def _from_domain(exc: Exception) -> ApiError | None:
    for cls in type(exc).__mro__:  # the most specific entry wins
        answer = DOMAIN_ERRORS.get(cls)
        if answer is not None:
            return ApiError(
                getattr(exc, "message", str(exc)),
                status_code=answer.status,
                type=answer.type,
                code=answer.code or getattr(exc, "code", None),
                param=answer.param,
                headers=answer.headers(exc),
            )
    return None


def to_api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    domain = _from_domain(exc)
    if domain is not None:
        return domain
    if isinstance(exc, drf_exceptions.APIException):
        return _from_drf(exc)
    if isinstance(exc, Http404):
        return ApiError("Not found.", status_code=404, code="not_found")
    if isinstance(exc, PermissionDenied):
        return ApiError("Permission denied.", status_code=403, code="permission_denied")
    if is_outage(exc):
        logger.warning("Backend unavailable in API view: %s", exc)
        return service_unavailable()
    logger.exception("Unhandled error in API view", exc_info=exc)
    return ApiError(
        "The server had an error while processing your request. Sorry about that!",
        status_code=500,
        type=SERVER_ERROR,
        code="internal_error",
    )


def service_unavailable() -> ApiError:
    """The database or Redis is out (ops.outages): the request did nothing that lasts (its
    transaction is rolled back) and a retry after the wait may succeed."""
    return ApiError(
        "The service is temporarily unavailable. Please retry after the time in Retry-After.",
        status_code=503,
        type=SERVER_ERROR,
        code="service_unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: everything, expected or not, leaves in OpenAI's envelope."""
    error = to_api_error(exc)
    response = Response(error.as_dict(), status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    return response
