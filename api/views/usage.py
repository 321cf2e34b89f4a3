"""`GET /v1/usage`: a tenant's own usage by day, API key and model, and this month's quota."""

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.decorators import method_decorator
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.selectors import quota_status, tenant_limits, usage_by_day_key_model

from ..errors import ApiError
from ..serializers.responses import UsageListSerializer

MAX_RANGE_DAYS = 366
MSG_BAD_DATE = "Invalid '{param}': expected a date as YYYY-MM-DD, but got '{value}' instead."
MSG_BAD_RANGE = "Invalid date range: 'end_date' ({end}) is before 'start_date' ({start})."
MSG_LONG_RANGE = "Invalid date range: at most {days} days can be asked for at once."


def _date(params, name: str, default: date) -> date:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            MSG_BAD_DATE.format(param=name, value=raw), code="invalid_value", param=name
        ) from None


@method_decorator(transaction.non_atomic_requests, name="dispatch")  # reads only: see models.py
class UsageApi(APIView):
    """Days from `start_date` to `end_date` inclusive (UTC; default: this month so far)."""

    def get(self, request):
        tenant = request.user.tenant
        today = timezone.now().date()
        start = _date(request.query_params, "start_date", today.replace(day=1))
        end = _date(request.query_params, "end_date", today)
        if end < start:
            raise ApiError(
                MSG_BAD_RANGE.format(start=start, end=end), code="invalid_value", param="end_date"
            )
        if end - start >= timedelta(days=MAX_RANGE_DAYS):
            raise ApiError(
                MSG_LONG_RANGE.format(days=MAX_RANGE_DAYS), code="invalid_value", param="end_date"
            )
        body = {
            "start_date": start,
            "end_date": end,
            "data": usage_by_day_key_model(tenant=tenant, start=start, end=end),
            "has_more": False,
            "quota": {
                "status": quota_status(tenant=tenant),
                "plan": tenant_limits(tenant=tenant).plan,
            },
        }
        return Response(UsageListSerializer(body).data)
