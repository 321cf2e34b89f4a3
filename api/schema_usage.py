"""The OpenAPI description of the accounts side of the API: the Bearer key scheme and
`GET /v1/usage` (attached by extensions, as in api/schema.py)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from .schema import Error as ErrorSchema
from .schema import constant


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key from the dashboard, sent as `Authorization: Bearer sk-...` "
                "(what the OpenAI SDK sends with `api_key=`)."
            ),
        }


# --- GET /v1/usage ------------------------------------------------------------------------------


class UsageRecord(serializers.Serializer):
    object = constant("usage.record")
    day = serializers.DateField()
    api_key = serializers.CharField(allow_null=True, help_text="The key's prefix.")
    api_key_name = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    requests = serializers.IntegerField()
    successful_requests = serializers.IntegerField()
    audio_seconds = serializers.FloatField()
    billed_seconds = serializers.IntegerField()


class UsageQuota(serializers.Serializer):
    object = constant("usage.quota")
    period = serializers.CharField(help_text="YYYY-MM (UTC)")
    plan = serializers.CharField()
    limit_seconds = serializers.IntegerField()
    used_seconds = serializers.IntegerField()
    reserved_seconds = serializers.IntegerField(help_text="Held by jobs not finished yet.")
    remaining_seconds = serializers.IntegerField()
    resets_at = serializers.DateTimeField()


class UsageList(serializers.Serializer):
    object = constant("list")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    data = UsageRecord(many=True)
    has_more = serializers.BooleanField()
    quota = UsageQuota()


class UsageSchema(OpenApiViewExtension):
    target_class = "api.views.usage.UsageApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="retrieveUsage",
                summary="This organization's usage by day, API key and model, and its quota",
                tags=["Usage"],
                parameters=[
                    OpenApiParameter(
                        "start_date", OpenApiTypes.DATE, description="Default: this month's first"
                    ),
                    OpenApiParameter("end_date", OpenApiTypes.DATE, description="Default: today"),
                ],
                responses={
                    200: UsageList,
                    400: OpenApiResponse(ErrorSchema, description="Bad date or date range."),
                    401: OpenApiResponse(ErrorSchema, description="Missing or invalid API key."),
                },
            )
            def get(self, request):
                return super().get(request)

        return Documented
