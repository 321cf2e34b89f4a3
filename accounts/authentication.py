"""`Authorization: Bearer sk-...` for the /v1 API."""

from rest_framework import authentication, exceptions

from .selectors import api_key_find
from .services import api_key_touch

MSG_INVALID_KEY = (
    "Incorrect API key provided: {masked}. You can find your API key in the dashboard."
)
MSG_REVOKED_KEY = "The API key {masked} has been revoked."
MSG_EXPIRED_KEY = "The API key {masked} has expired."
MSG_INACTIVE_TENANT = "The organization of this API key is deactivated."


def mask(key: str) -> str:
    """OpenAI's masking: enough to recognise the key, not enough to use it."""
    if len(key) <= 10:
        return "*" * len(key)
    return f"{key[:6]}{'*' * 8}{key[-4:]}"


class KeyRefused(Exception):
    """An API key that does not open the API; `api_key` is its row when it was found."""

    def __init__(self, message: str, api_key=None) -> None:
        super().__init__(message)
        self.message = message
        self.api_key = api_key


def api_key_check(*, key: str):
    """The usable key row for `key` (its last use noted), or KeyRefused with OpenAI's message:
    for the Bearer header and for the realtime websocket alike."""
    api_key = _usable(key)
    api_key_touch(api_key=api_key)
    return api_key


def api_key_usable(*, key: str):
    """The key row if `key` opens the API, else None; its use is not noted (a look at the
    headers before the body is read; the request's own authentication notes it)."""
    try:
        return _usable(key)
    except KeyRefused:
        return None


def _usable(key: str):
    api_key = api_key_find(key=key)
    if api_key is None:
        raise KeyRefused(MSG_INVALID_KEY.format(masked=mask(key)))
    if api_key.is_revoked:
        raise KeyRefused(MSG_REVOKED_KEY.format(masked=mask(key)), api_key)
    if api_key.is_expired():
        raise KeyRefused(MSG_EXPIRED_KEY.format(masked=mask(key)), api_key)
    if not api_key.tenant.is_active:
        raise KeyRefused(MSG_INACTIVE_TENANT, api_key)
    return api_key


class TenantUser:
    """The authenticated principal of an API request: a key acting for its tenant."""

    is_authenticated = True

    def __init__(self, api_key) -> None:
        self.api_key = api_key
        self.tenant = api_key.tenant

    def __str__(self) -> str:
        return f"{self.tenant.slug}:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(MSG_INVALID_KEY.format(masked="(malformed)"))
        try:
            api_key = api_key_check(key=header[1])
        except KeyRefused as refused:
            # A refused key still tells whose request it was: the usage log records it.
            request._request.usage_api_key = refused.api_key
            raise exceptions.AuthenticationFailed(refused.message) from None
        request._request.usage_api_key = api_key
        return TenantUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no key is given, as OpenAI does.
        return 'Bearer realm="api"'
