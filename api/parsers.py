"""Multipart parsing that refuses oversized uploads without reading them into memory."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework.parsers import MultiPartParser

from billing.selectors import tenant_limits

from .errors import ApiError

# Room for the multipart envelope (boundaries, the small form fields) around the file itself.
ENVELOPE_SLACK = 64 * 1024
# Under WSGI (runserver) an oversized body is read and thrown away up to this much, so that
# clients which send the whole body before reading the answer see the 413 instead of a reset
# connection. The web process (ASGI) never gets this far: api.body_guard refuses such a body
# from its headers, and the stream here is empty.
DRAIN_LIMIT = 128 * 1024 * 1024
MSG_TOO_LARGE = "Maximum content size limit ({limit}) exceeded ({size} bytes read)"


def request_too_large(limit: int, size: int) -> ApiError:
    return ApiError(
        MSG_TOO_LARGE.format(limit=limit, size=size),
        status_code=413,
        code="request_too_large",
        param="file",
    )


def upload_limit(request) -> int:
    """The largest file this request may carry: its tenant plan's, within the platform's
    MAX_UPLOAD_BYTES."""
    return tenant_upload_limit(getattr(getattr(request, "user", None), "tenant", None))


def tenant_upload_limit(tenant) -> int:
    """The largest file `tenant` may send (None: the platform's MAX_UPLOAD_BYTES)."""
    if tenant is None:
        return settings.MAX_UPLOAD_BYTES
    return min(settings.MAX_UPLOAD_BYTES, tenant_limits(tenant=tenant).max_file_bytes)


class _SizeLimitHandler(FileUploadHandler):
    """Counts file bytes as they stream in; a body without (or lying about) Content-Length is
    stopped as soon as it passes the limit."""

    def __init__(self, request, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise request_too_large(self.limit, self.received)
        return raw_data

    def file_complete(self, file_size: int):
        return None


def _drain(stream, declared: int) -> None:
    remaining = min(declared, DRAIN_LIMIT)
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        remaining -= len(chunk)


class SizeLimitedMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        limit = upload_limit(request)
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + ENVELOPE_SLACK:
            if stream is not None:
                _drain(stream, declared)
            raise request_too_large(limit, declared)
        django_request = request._request
        django_request.upload_handlers = [
            _SizeLimitHandler(django_request, limit),
            *django_request.upload_handlers,
        ]
        return super().parse(stream, media_type, parser_context)
