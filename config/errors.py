"""One error type for the API and the handler that renders every failure in OpenAI's envelope.

Clients built for OpenAI parse `{"error": {"message", "type", "param", "code"}}` and map the
status to an exception class; a Django HTML page or a stack trace would break them.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

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
    """The first field error of a serializer, with the field as `param`."""
    if isinstance(detail, dict) and detail:
        field, messages = next(iter(detail.items()))
        message = messages[0] if isinstance(messages, list) and messages else messages
        code = getattr(message, "code", None) or "invalid_value"
        param = None if field == "non_field_errors" else field
        return ApiError(str(message), code=code, param=param)
    if isinstance(detail, list) and detail:
        return ApiError(str(detail[0]), code=getattr(detail[0], "code", "invalid_value"))
    return ApiError(str(detail), code="invalid_value")


def to_api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, drf_exceptions.APIException):
        return _from_drf(exc)
    if isinstance(exc, Http404):
        return ApiError("Not found.", status_code=404, code="not_found")
    if isinstance(exc, PermissionDenied):
        return ApiError("Permission denied.", status_code=403, code="permission_denied")
    logger.exception("Unhandled error in API view", exc_info=exc)
    return ApiError(
        "The server had an error while processing your request. Sorry about that!",
        status_code=500,
        type=SERVER_ERROR,
        code="internal_error",
    )


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: everything, expected or not, leaves in OpenAI's envelope."""
    error = to_api_error(exc)
    response = Response(error.as_dict(), status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    return response
