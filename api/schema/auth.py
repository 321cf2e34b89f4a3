"""The API key in the OpenAPI description: the security scheme of every /v1 operation."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
