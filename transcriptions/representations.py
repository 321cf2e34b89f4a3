"""The JSON shape of an async job (GET /v1/audio/jobs/{id}, listings, callbacks).

One serializer both renders it and documents it (drf-spectacular reads the same fields for
the OpenAPI schema), so the body and its description cannot drift apart.
"""

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Job
from .openai.bodies import UsageField
from .openai.formats import JSON_FORMATS, RESPONSE_FORMATS, render, usage, usage_of


def constant(value: str) -> serializers.Field:
    """A read-only field that always holds `value` (OpenAI's `object` tags)."""

    @extend_schema_field({"type": "string", "default": value, "description": f"Always `{value}`."})
    class Constant(serializers.Field):
        def __init__(self) -> None:
            super().__init__(source="*", read_only=True)

        def to_representation(self, instance: Any) -> str:
            return value

    return Constant()


@extend_schema_field({"type": "integer", "nullable": True, "description": "Unix time"})
class UnixTimeField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value) -> int | None:
        return int(value.timestamp()) if value else None


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class CallbackAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    delivered = serializers.BooleanField()
    error = serializers.SerializerMethodField()
    created_at = UnixTimeField()

    def get_error(self, attempt) -> str | None:
        return attempt.error or None


class CallbackSerializer(serializers.Serializer):
    url = serializers.URLField(source="callback_url")
    attempts = CallbackAttemptSerializer(source="callback_attempts.all", many=True)


def job_result(job: Job) -> Any:
    """The transcript in the job's requested format: an object for json formats, else text."""
    if job.status != Job.Status.SUCCEEDED or job.result is None:
        return None
    body, _ = render(
        job.result,
        response_format=job.response_format,
        task=job.task,
        granularities=job.timestamp_granularities,
        include=job.include,
        requested_model=job.requested_model,
    )
    return json.loads(body) if job.response_format in JSON_FORMATS else body


class JobSerializer(serializers.Serializer):
    """An async job. Context `include_result=False` (listings, 202 answers) leaves out
    `result`; `callback` is there only when the job has a callback_url."""

    id = serializers.CharField(source="public_id")
    object = constant("audio.job")
    task = serializers.ChoiceField(choices=Job.Task.values)
    model = serializers.CharField(source="requested_model")
    status = serializers.ChoiceField(choices=Job.Status.values)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    response_format = serializers.ChoiceField(choices=RESPONSE_FORMATS)
    language = serializers.SerializerMethodField()
    filename = serializers.CharField(source="audio_filename")
    bytes = serializers.IntegerField(source="audio_bytes")
    duration = serializers.SerializerMethodField(
        help_text="Seconds (probed until the engine measured it)."
    )
    attempts = serializers.IntegerField()
    created_at = UnixTimeField()
    started_at = UnixTimeField()
    finished_at = UnixTimeField()
    error = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField(
        help_text="When succeeded: the body in response_format (an object for json formats, "
        "else a string). Not included in listings."
    )
    callback = serializers.SerializerMethodField()

    def get_language(self, job: Job) -> str | None:
        return job.language or None

    def get_duration(self, job: Job) -> float:
        return job.duration if job.duration is not None else job.probed_duration

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, job: Job) -> dict[str, str] | None:
        if job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
            return {"code": job.error_code, "message": job.error_message}
        return None

    @extend_schema_field(UsageField(allow_null=True))
    def get_usage(self, job: Job) -> dict[str, Any] | None:
        if job.status != Job.Status.SUCCEEDED:
            return None
        if job.result is None:  # its transcript was purged (retention): the seconds remain
            return usage(job.duration)
        return usage_of(job.result, requested_model=job.requested_model)

    @extend_schema_field(OpenApiTypes.ANY)
    def get_result(self, job: Job) -> Any:
        return job_result(job)

    @extend_schema_field(CallbackSerializer(required=False))
    def get_callback(self, job: Job) -> dict[str, Any] | None:
        return CallbackSerializer(job).data if job.callback_url else None

    def to_representation(self, job: Job) -> dict[str, Any]:
        data = super().to_representation(job)
        if not self.context.get("include_result", True):
            del data["result"]
        if not job.callback_url:
            del data["callback"]
        return data


def job_object(job: Job, *, include_result: bool = True) -> dict[str, Any]:
    """The job as JSON-ready data (the API's answers and the callback body)."""
    return JobSerializer(job, context={"include_result": include_result}).data
