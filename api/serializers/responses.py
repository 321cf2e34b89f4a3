"""The API's JSON answers that are not a job (the job: transcriptions.representations): each
serializer renders the body and documents it in the OpenAPI schema."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from transcriptions.representations import JobSerializer, constant

# Models are listed with a fixed creation time: they are files, not events.
MODELS_CREATED = 1735689600
MODEL_OWNER = "faster-whisper"


class ModelSerializer(serializers.Serializer):
    """A model id or alias of the registry (the instance is the id)."""

    id = serializers.CharField(source="*")
    object = constant("model")
    created = serializers.SerializerMethodField()
    owned_by = serializers.SerializerMethodField()

    def get_created(self, model_id: str) -> int:
        return MODELS_CREATED

    def get_owned_by(self, model_id: str) -> str:
        return MODEL_OWNER


class ModelListSerializer(serializers.Serializer):
    object = constant("list")
    data = ModelSerializer(source="*", many=True)


def model_ids() -> list[str]:
    return [*settings.WHISPER_MODEL_ALIASES, *settings.WHISPER_MODELS]


class JobPageSerializer(serializers.Serializer):
    """A page of jobs (`{"jobs": [...], "has_more": bool}`), as OpenAI's lists are."""

    object = constant("list")
    data = JobSerializer(source="jobs", many=True)
    first_id = serializers.SerializerMethodField()
    last_id = serializers.SerializerMethodField()
    has_more = serializers.BooleanField()

    def get_first_id(self, page: dict[str, Any]) -> str | None:
        return page["jobs"][0].public_id if page["jobs"] else None

    def get_last_id(self, page: dict[str, Any]) -> str | None:
        return page["jobs"][-1].public_id if page["jobs"] else None


class JobDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = constant("audio.job.deleted")
    deleted = serializers.BooleanField()


# --- GET /v1/usage ------------------------------------------------------------------------------


class UsageRecordSerializer(serializers.Serializer):
    object = constant("usage.record")
    day = serializers.DateField()
    api_key = serializers.CharField(allow_null=True, help_text="The key's prefix.")
    api_key_name = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    requests = serializers.IntegerField()
    successful_requests = serializers.IntegerField()
    audio_seconds = serializers.FloatField()
    billed_seconds = serializers.IntegerField()


class UsageQuotaSerializer(serializers.Serializer):
    """This month's quota (the instance: billing.selectors.QuotaStatus and the plan's slug)."""

    object = constant("usage.quota")
    period = serializers.DateField(
        source="status.period", format="%Y-%m", help_text="YYYY-MM (UTC)"
    )
    plan = serializers.CharField()
    limit_seconds = serializers.IntegerField(source="status.limit_seconds")
    used_seconds = serializers.IntegerField(source="status.used_seconds")
    reserved_seconds = serializers.IntegerField(
        source="status.reserved_seconds", help_text="Held by jobs not finished yet."
    )
    remaining_seconds = serializers.IntegerField(source="status.remaining_seconds")
    resets_at = serializers.DateTimeField(source="status.resets_at", format="%Y-%m-%dT%H:%M:%SZ")


class UsageListSerializer(serializers.Serializer):
    object = constant("list")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    data = UsageRecordSerializer(many=True)
    has_more = serializers.BooleanField()
    quota = UsageQuotaSerializer()


class ErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(help_text="e.g. invalid_request_error, server_error")
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    """OpenAI's error envelope (built by api.errors.ApiError.as_dict)."""

    error = ErrorDetailSerializer()
