"""Writes for tenants, members and API keys."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .errors import ApiKeyNotFound
from .models import ApiKey, Membership, Tenant, generate_key, hash_secret

__all__ = [
    "ApiKeyNotFound",
    "api_key_create",
    "api_key_revoke",
    "api_key_touch",
    "membership_create",
    "tenant_create",
]

# last_used_at is informative: writing it on every request would make each API call a write
# on the hot path, so it is refreshed at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def tenant_create(*, slug: str, name: str = "") -> Tenant:
    return Tenant.objects.create(slug=slug, name=name or slug)


def membership_create(
    *, tenant: Tenant, user: AbstractBaseUser, role: str = Membership.Role.MEMBER
) -> Membership:
    return Membership.objects.create(tenant=tenant, user=user, role=role)


def api_key_create(
    *,
    tenant: Tenant,
    name: str = "",
    expires_at: datetime | None = None,
    created_by: AbstractBaseUser | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned once here and never stored."""
    key, prefix = generate_key()
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        hashed_key=hash_secret(key),
        expires_at=expires_at,
        created_by=created_by,
    )
    return api_key, key


@transaction.atomic
def api_key_revoke(*, prefix: str, tenant: Tenant | None = None) -> ApiKey:
    """Revoke by prefix (optionally within one tenant); revoking twice keeps the first time."""
    keys = ApiKey.objects.select_for_update().filter(prefix=prefix)
    if tenant is not None:
        keys = keys.filter(tenant=tenant)
    api_key = keys.first()
    if api_key is None:
        raise ApiKeyNotFound(prefix)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
