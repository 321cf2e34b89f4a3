"""The plan's requests per minute as a DRF throttle on every keyed request, and OpenAI's
x-ratelimit-* headers (added to the response by api.middleware)."""

from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey
from billing.errors import RateLimited
from billing.ratelimit import RateLimit, duration_text, rate_limit_check


def rate_limit_headers(state: RateLimit) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(state.limit),
        "x-ratelimit-remaining-requests": str(state.remaining),
        "x-ratelimit-reset-requests": duration_text(state.reset),
    }


class PlanRateThrottle(BaseThrottle):
    """DRF throttle for every keyed API request: the tenant's requests per minute, and the
    key's own limit when it has one. The state goes on the request for the headers the usage
    middleware adds to the response, refused or not."""

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        try:
            request._request.rate_limit = rate_limit_check(api_key=api_key)
        except RateLimited as refused:
            request._request.rate_limit = refused.state
            raise
        return True
