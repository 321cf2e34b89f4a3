"""Dashboard pages for people: the organization switcher and API keys.

Sign-in and sign-out are Django's own views (templates/registration/login.html).
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.errors import ApiKeyNotFound
from accounts.selectors import api_key_get, api_key_list
from accounts.services import api_key_create, api_key_revoke, api_key_update_limits
from billing.selectors import usage_by_key_prefix

from ..forms import ApiKeyCreateForm
from ..manage_forms import ApiKeyLimitsForm
from ..tenancy import TenantScope, scoped_view, tenant_select

# The plain key waits here (server-side session) for the one page view that shows it.
SESSION_NEW_KEY = "dashboard_new_api_key"

MSG_KEYS_OWNERS_ONLY = "Only owners of {tenant} can create or revoke API keys."
MSG_KEY_REVOKED = "Key {prefix}… is revoked: the API refuses it from now on."
MSG_TENANT_UNKNOWN = "No such organization."
MSG_KEY_NOT_FOUND = "No such API key."
MSG_KEY_LIMITS_SAVED = "Key {prefix}…: {limit}, {expiry}."
MSG_KEY_LIMITS_INVALID = "Key {prefix}… not changed: {errors}"
KEY_FILTERS = ("active", "revoked", "all")
TRANSCRIPT_PREFIX = "/transcripts/"


def _require_key_manager(scope: TenantScope) -> None:
    if not scope.can_manage_keys:
        raise PermissionDenied(MSG_KEYS_OWNERS_ONLY.format(tenant=scope.current.name))


# The page shows a new key in clear once: `Cache-Control: no-store, private` (never_cache) keeps
# it out of the browser's cache and history and out of any proxy in between.
@never_cache
@scoped_view
def api_key_list_page(request: HttpRequest, *, scope: TenantScope) -> HttpResponse:
    if request.method == "POST":
        _require_key_manager(scope)
        form = ApiKeyCreateForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["expires_in_days"]
            api_key, key = api_key_create(
                tenant=scope.current,
                name=form.cleaned_data["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                created_by=request.user,
            )
            request.session[SESSION_NEW_KEY] = {"id": api_key.pk, "key": key}
            # Redirect so that reloading the page neither resubmits nor shows the key again.
            return redirect("account:api-keys")
    else:
        form = ApiKeyCreateForm()
    new_key = request.session.pop(SESSION_NEW_KEY, None)
    now = timezone.now()
    show = request.GET.get("show", "active")
    if show not in KEY_FILTERS:
        show = "active"
    every_key = api_key_list(tenant=scope.current)
    api_keys = every_key
    # Revoked keys stay in the log and the usage figures; the list shows them on request only.
    if show == "active":
        api_keys = every_key.filter(revoked_at__isnull=True)
    elif show == "revoked":
        api_keys = every_key.filter(revoked_at__isnull=False)
    today = now.date()
    usage = usage_by_key_prefix(tenant=scope.current, start=today.replace(day=1), end=today)
    rows = [
        {
            "key": key,
            "usage": usage.get(key.prefix),
            "limits_form": ApiKeyLimitsForm(
                initial={
                    "requests_per_minute": key.requests_per_minute,
                    "expires_on": key.expires_at.date() if key.expires_at else None,
                },
                prefix=f"key{key.pk}",
            ),
        }
        for key in api_keys
    ]
    return render(
        request,
        "dashboard/api_keys.html",
        {
            "scope": scope,
            "form": form,
            "api_keys": rows,
            "show": show,
            "revoked_count": every_key.filter(revoked_at__isnull=False).count(),
            "new_key": new_key,
            "now": now,
            "month": today.replace(day=1),
            "nav": "keys",
        },
    )


@require_POST
@scoped_view
def api_key_revoke_page(request: HttpRequest, pk: int, *, scope: TenantScope) -> HttpResponse:
    try:
        api_key = api_key_get(tenants=scope.current_tenants, pk=pk)
    except ApiKeyNotFound:
        raise Http404(MSG_KEY_NOT_FOUND) from None
    _require_key_manager(scope)
    api_key_revoke(prefix=api_key.prefix, tenant=api_key.tenant)
    messages.success(request, MSG_KEY_REVOKED.format(prefix=api_key.prefix))
    # Every key, so that the one just revoked is still in view with its new state.
    return redirect(reverse("account:api-keys") + "?show=all")


@require_POST
@scoped_view
def api_key_limits_page(request: HttpRequest, pk: int, *, scope: TenantScope) -> HttpResponse:
    """Set a key's own requests per minute and its expiry (owners and staff)."""
    try:
        api_key = api_key_get(tenants=scope.current_tenants, pk=pk)
    except ApiKeyNotFound:
        raise Http404(MSG_KEY_NOT_FOUND) from None
    _require_key_manager(scope)
    form = ApiKeyLimitsForm(request.POST, prefix=f"key{api_key.pk}")
    if not form.is_valid():
        errors = " ".join(" ".join(error) for error in form.errors.values())
        messages.error(request, MSG_KEY_LIMITS_INVALID.format(prefix=api_key.prefix, errors=errors))
        return redirect("account:api-keys")
    api_key = api_key_update_limits(
        api_key=api_key,
        requests_per_minute=form.cleaned_data["requests_per_minute"],
        expires_at=form.expires_at(),
    )
    limit = (
        f"{api_key.requests_per_minute} requests per minute"
        if api_key.requests_per_minute
        else "no limit of its own"
    )
    expiry = f"expires {api_key.expires_at:%Y-%m-%d}" if api_key.expires_at else "never expires"
    messages.success(
        request, MSG_KEY_LIMITS_SAVED.format(prefix=api_key.prefix, limit=limit, expiry=expiry)
    )
    return redirect("account:api-keys")


@require_POST
@login_required
def tenant_switch(request: HttpRequest) -> HttpResponse:
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        tenant_id = 0
    if tenant_select(request=request, tenant_id=tenant_id) is None:
        messages.error(request, MSG_TENANT_UNKNOWN)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    # One tenant's transcript does not belong among the next tenant's pages: go to the list.
    if target.startswith(TRANSCRIPT_PREFIX) and target != TRANSCRIPT_PREFIX:
        target = TRANSCRIPT_PREFIX
    return redirect(target)
