"""Writes for tenants, members and API keys."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .errors import ApiKeyNotFound, MembershipError
from .models import ApiKey, Membership, Tenant, generate_key, hash_secret

__all__ = [
    "ApiKeyNotFound",
    "api_key_create",
    "api_key_revoke",
    "api_key_touch",
    "api_key_update_limits",
    "member_invite",
    "membership_create",
    "membership_remove",
    "membership_role_change",
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


def api_key_update_limits(
    *, api_key: ApiKey, requests_per_minute: int | None, expires_at: datetime | None
) -> ApiKey:
    """Set a key's own rate limit (None: only the tenant's) and expiry (None: never). The
    API reads both from the key's row on every request, so they apply from the next one."""
    api_key.requests_per_minute = requests_per_minute or None
    api_key.expires_at = expires_at
    api_key.save(update_fields=["requests_per_minute", "expires_at"])
    return api_key


MSG_ALREADY_MEMBER = "{username} is already a member of {tenant}."
MSG_LAST_OWNER = "{tenant} must keep at least one owner: make someone else an owner first."


@dataclass(frozen=True)
class Invitation:
    membership: Membership
    # A new account has no password: it gets a one-time link to set one. An existing
    # account keeps its own password and gets no link (a link would let the inviter take it).
    uidb64: str | None
    token: str | None


def member_invite(
    *, tenant: Tenant, username: str, email: str = "", role: str = Membership.Role.MEMBER
) -> Invitation:
    """Add a person to the tenant, creating their account (without a password) if needed."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            user = User(username=username, email=email)
            user.set_unusable_password()
            user.save()
        elif Membership.objects.filter(tenant=tenant, user=user).exists():
            raise MembershipError(MSG_ALREADY_MEMBER.format(username=username, tenant=tenant.name))
        membership = membership_create(tenant=tenant, user=user, role=role)
    if not created:
        return Invitation(membership=membership, uidb64=None, token=None)
    return Invitation(
        membership=membership,
        uidb64=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
    )


def _keeps_an_owner(membership: Membership) -> None:
    """Refuse a change that would leave the tenant without owners. The tenant's row is locked
    first, so that two owners demoting each other at once cannot both pass."""
    Tenant.objects.select_for_update().filter(pk=membership.tenant_id).first()
    others = (
        Membership.objects.filter(tenant_id=membership.tenant_id, role=Membership.Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )
    if not others:
        raise MembershipError(MSG_LAST_OWNER.format(tenant=membership.tenant.name))


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str) -> Membership:
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER:
        _keeps_an_owner(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Take a person out of the tenant (their account stays: they may belong elsewhere)."""
    if membership.role == Membership.Role.OWNER:
        _keeps_an_owner(membership)
    membership.delete()
