"""The OpenAPI schema of the /v1 API and the docs pages that render it (assets vendored)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import api_schema as _auth_schema  # noqa: F401  (registers the extensions

from . import api_schema as _audio_schema  # noqa: F401   before the schema is generated)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
