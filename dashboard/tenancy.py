"""Which tenants a signed-in person sees in the dashboard, and which one they are acting for.

Members see the tenants they belong to; staff see every tenant. The dashboard always acts for
one tenant at a time (kept in the session, switched from the header), and every lookup of a
tenant's object filters by `TenantScope.tenants`, so another tenant's id is a 404.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership, Tenant
from accounts.selectors import tenant_list_for_user

SESSION_TENANT = "dashboard_tenant_id"
STAFF_ROLE = "staff"


@dataclass(frozen=True)
class TenantScope:
    """The signed-in person's view of the platform for one request."""

    user: AbstractBaseUser
    tenants: QuerySet[Tenant]  # every tenant this person may see
    current: Tenant  # the tenant the dashboard pages act for
    role: str  # owner, member, or staff

    @property
    def is_staff(self) -> bool:
        return bool(self.user.is_staff)

    @property
    def current_tenants(self) -> QuerySet[Tenant]:
        """The current tenant as a queryset, for selectors that filter by tenants."""
        return self.tenants.filter(pk=self.current.pk)

    @property
    def can_manage_keys(self) -> bool:
        """Owners and staff create and revoke keys; members only see them."""
        return self.role in (Membership.Role.OWNER, STAFF_ROLE)

    @property
    def can_manage_members(self) -> bool:
        """Owners and staff add, remove and change the role of members; members only see them."""
        return self.role in (Membership.Role.OWNER, STAFF_ROLE)


def tenant_scope(request: HttpRequest) -> TenantScope | None:
    """The scope of a signed-in request; None for someone who belongs to no tenant."""
    user = request.user
    tenants = tenant_list_for_user(user=user)
    selected = request.session.get(SESSION_TENANT)
    current = tenants.filter(pk=selected).first() if selected else None
    if current is None:
        # Staff see every tenant, but start with their own organization (if they belong to
        # one), not with whichever tenant sorts first.
        current = tenants.filter(memberships__user=user).first() or tenants.first()
        if current is None:
            return None
        request.session[SESSION_TENANT] = current.pk
    role = (
        Membership.objects.filter(tenant=current, user=user).values_list("role", flat=True).first()
    )
    if user.is_staff:
        role = STAFF_ROLE
    return TenantScope(user=user, tenants=tenants, current=current, role=role or "")


def tenant_select(*, request: HttpRequest, tenant_id: int) -> Tenant | None:
    """Act for another tenant, if this person may see it."""
    tenant = tenant_list_for_user(user=request.user).filter(pk=tenant_id).first()
    if tenant is not None:
        request.session[SESSION_TENANT] = tenant.pk
    return tenant


def scoped_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A dashboard page: signed in, and acting for a tenant (passed to the view as `scope`)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        scope = tenant_scope(request)
        if scope is None:
            return render(request, "dashboard/no_tenant.html", status=403)
        # The base template shows the tenant switcher from it. Not `request.scope`: under ASGI
        # that is the connection scope Django reads the request's scheme and host from.
        request.tenant_scope = scope
        return view(request, *args, scope=scope, **kwargs)

    return wrapper


def scope_for_error_page(request: HttpRequest) -> None:
    """Give an error page (404 of an unknown URL) the header of the dashboard's pages: the
    navigation is drawn from `request.tenant_scope`, which only scoped views set otherwise."""
    if getattr(request, "tenant_scope", None) is None and request.user.is_authenticated:
        request.tenant_scope = tenant_scope(request)
