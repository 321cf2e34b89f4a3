"""The request log: the tenant's own usage-log rows, one per API request, refused requests
included, filterable by key, endpoint, status and date, newest first."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import api_key_list
from billing.selectors import usage_endpoint_list, usage_record_search, usage_status_list

from ..manage_forms import RequestLogFilterForm
from ..tenancy import TenantScope, scoped_view

PAGE_SIZE = 50


@scoped_view
def request_log_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    form = RequestLogFilterForm(
        request.GET or None,
        keys=api_key_list(tenant=scope.current),
        endpoints=usage_endpoint_list(tenant=scope.current),
        statuses=usage_status_list(tenant=scope.current),
    )
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "api_key_id": data["key"],
            "endpoint": data["endpoint"],
            "status": data["status"],
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }
    # An invalid filter is shown as an error over an empty list, never silently dropped.
    invalid = form.is_bound and not form.is_valid()
    records = usage_record_search(tenant=scope.current, **filters)
    if invalid:
        records = records.none()
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/requests_log.html",
        {
            "scope": scope,
            "form": form,
            "invalid": invalid,
            "page": page,
            "nav": "requests",
        },
    )
