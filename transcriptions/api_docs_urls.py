"""The OpenAPI schema of the /v1 API and the Swagger UI page that renders it, from the assets
drf-spectacular-sidecar vendors. (No Redoc page: its bundle always loads a logo from its
makers' CDN.)"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Imported for their side effect: they register the schema extensions before generation.
from accounts import api_schema as _accounts_schema  # noqa: F401

from . import api_schema as _transcriptions_schema  # noqa: F401

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
