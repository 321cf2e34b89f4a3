"""Reads for tenants and API keys."""

from .models import KEY_PREFIX, LOOKUP_LENGTH, ApiKey

PREFIX_LENGTH = len(KEY_PREFIX) + LOOKUP_LENGTH


def api_key_find(*, key: str) -> ApiKey | None:
    """The key row whose hash matches `key`, revoked or not; None when nothing matches."""
    if not key.startswith(KEY_PREFIX) or len(key) <= PREFIX_LENGTH:
        return None
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=key[:PREFIX_LENGTH]).first()
    if api_key is None or not api_key.matches(key):
        return None
    return api_key
