from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from accounts.views import UsageApi
from config import health
from config.errors import ApiError, error_response
from config.middleware import is_api_request
from transcriptions import views as api
from transcriptions.metrics import metrics_view

urlpatterns = [
    path("v1/audio/transcriptions", api.TranscriptionCreateApi.as_view()),
    path("v1/audio/translations", api.TranslationCreateApi.as_view()),
    path("v1/audio/jobs", api.JobCollectionApi.as_view()),
    path("v1/audio/jobs/<str:job_id>", api.JobDetailApi.as_view()),
    path("v1/models", api.ModelListApi.as_view()),
    path("v1/models/<str:model_id>", api.ModelDetailApi.as_view()),
    path("v1/usage", UsageApi.as_view()),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics_view),
    path("admin/", admin.site.urls),
    path("api/", include("transcriptions.api_docs_urls")),
    path("", include("accounts.dashboard_urls")),
    path("", include("transcriptions.dashboard_urls")),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_response(
            ApiError(
                f"Unknown request URL: {request.method} {request.path}.",
                status_code=404,
                code="unknown_url",
            )
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return error_response(
            ApiError(
                "The server had an error while processing your request.",
                status_code=500,
                type="server_error",
                code="internal_error",
            )
        )
    from django.views.defaults import server_error

    return server_error(request)
