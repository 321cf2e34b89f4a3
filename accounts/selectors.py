"""Reads for tenants and API keys."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .errors import ApiKeyNotFound, MembershipNotFound
from .models import KEY_PREFIX, LOOKUP_LENGTH, ApiKey, Membership, Tenant

PREFIX_LENGTH = len(KEY_PREFIX) + LOOKUP_LENGTH


def api_key_find(*, key: str) -> ApiKey | None:
    """The key row whose hash matches `key`, revoked or not; None when nothing matches."""
    if not key.startswith(KEY_PREFIX) or len(key) <= PREFIX_LENGTH:
        return None
    # With the tenant's plan and overrides: every API request reads its limits next
    # (billing.selectors.tenant_limits), two queries fewer this way.
    api_key = (
        ApiKey.objects.select_related("tenant__plan", "tenant__plan_override")
        .filter(prefix=key[:PREFIX_LENGTH])
        .first()
    )
    if api_key is None or not api_key.matches(key):
        return None
    return api_key


def tenant_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Tenant]:
    """The tenants a signed-in person may see: staff every tenant, others their own."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if user.is_staff:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user).distinct()


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).select_related("created_by")


def api_key_get(*, tenants: QuerySet[Tenant], pk: int) -> ApiKey:
    """One key of the tenants given; any other key is not found, never another tenant's row."""
    api_key = ApiKey.objects.select_related("tenant").filter(pk=pk, tenant__in=tenants).first()
    if api_key is None:
        raise ApiKeyNotFound(pk)
    return api_key


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .order_by("-role", "user__username")  # owners ("owner" > "member") first
    )


def membership_get(*, tenant: Tenant, pk: int) -> Membership:
    """One membership of `tenant`; another tenant's is not found, never shown or changed."""
    membership = Membership.objects.select_related("user").filter(pk=pk, tenant=tenant).first()
    if membership is None:
        raise MembershipNotFound(pk)
    return membership
