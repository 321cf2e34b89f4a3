"""The OpenAI-compatible /v1 API, and its OpenAPI schema with the Swagger UI page that renders
it from the assets drf-spectacular-sidecar vendors. (No Redoc page: its bundle always loads a
logo from its makers' CDN.)"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Imported for its side effect: it registers the schema extensions before generation.
from . import schema as _schema  # noqa: F401
from .views import audio, jobs, models, usage

urlpatterns = [
    path("v1/audio/transcriptions", audio.TranscriptionCreateApi.as_view()),
    path("v1/audio/translations", audio.TranslationCreateApi.as_view()),
    path("v1/audio/jobs", jobs.JobCollectionApi.as_view()),
    path("v1/audio/jobs/<str:job_id>", jobs.JobDetailApi.as_view()),
    path("v1/models", models.ModelListApi.as_view()),
    path("v1/models/<str:model_id>", models.ModelDetailApi.as_view()),
    path("v1/usage", usage.UsageApi.as_view()),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
