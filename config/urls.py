"""The URL conf: one include per audience (api/, dashboard/), operations, the admin."""

import sys

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from api.errors import ApiError, error_response, service_unavailable
from api.middleware import is_api_request
from ops import health
from ops.metrics import metrics_view
from ops.outages import is_outage

urlpatterns = [
    path("", include("api.urls")),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics_view),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
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

    from dashboard.tenancy import scope_for_error_page

    scope_for_error_page(request)  # keeps the navigation on the page
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        # Called while the exception is handled (django.core.handlers.exception): an outage
        # raised outside the view (a middleware's write) is a 503 to retry, as in the view.
        if is_outage(sys.exc_info()[1]):
            return error_response(service_unavailable())
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
