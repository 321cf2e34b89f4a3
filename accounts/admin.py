"""Operators' admin for tenants, members and API keys (billing/admin.py adds the plan override
and the billing report to the tenant pages)."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, Q
from django.utils import timezone

from .models import ApiKey, Membership, Tenant
from .services import api_key_create, api_key_revoke

admin.site.site_header = "Whisper platform administration"
admin.site.site_title = "Whisper platform admin"
admin.site.index_title = "Tenants, keys, jobs and the task queue"
# The job and usage lists have many columns: they get the page's whole width.
admin.site.enable_nav_sidebar = False

MSG_KEY_CREATED = (
    "The new key is {key} — copy it now: it is not shown again (only its prefix is kept)."
)
MSG_KEYS_REVOKED = "Revoked {count} key(s); requests with them are refused from now on."


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # a key is created through its own form, which shows the key once


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "name",
        "plan",
        "is_active",
        "members",
        "active_keys",
        "jobs",
        "created_at",
    ]
    list_filter = ["is_active", "plan", "created_at"]
    search_fields = ["slug", "name"]
    date_hierarchy = "created_at"
    list_select_related = ["plan"]
    inlines = [MembershipInline, ApiKeyInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_members=Count("memberships", distinct=True),
                n_active_keys=Count(
                    "api_keys", filter=Q(api_keys__revoked_at__isnull=True), distinct=True
                ),
                n_jobs=Count("jobs", distinct=True),
            )
        )

    @admin.display(description="members", ordering="n_members")
    def members(self, obj: Tenant) -> int:
        return obj.n_members

    @admin.display(description="active keys", ordering="n_active_keys")
    def active_keys(self, obj: Tenant) -> int:
        return obj.n_active_keys

    @admin.display(description="jobs", ordering="n_jobs")
    def jobs(self, obj: Tenant) -> int:
        return obj.n_jobs


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__slug", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]
    list_select_related = ["user", "tenant"]
    date_hierarchy = "created_at"


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.action(description="Revoke selected keys")
def revoke_keys(modeladmin, request, queryset) -> None:
    count = 0
    for api_key in queryset.filter(revoked_at__isnull=True):
        api_key_revoke(prefix=api_key.prefix, tenant=api_key.tenant)
        count += 1
    modeladmin.message_user(request, MSG_KEYS_REVOKED.format(count=count), messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "tenant",
        "state",
        "created_at",
        "last_used_at",
        "expires_at",
        "created_by",
    ]
    list_filter = [KeyStateFilter, "tenant", "created_at", "last_used_at"]
    search_fields = ["prefix", "name", "tenant__slug", "tenant__name"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "created_by"]
    autocomplete_fields = ["tenant"]
    actions = [revoke_keys]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "expires_at"]
        return [
            "tenant",
            "name",
            "prefix",
            "created_at",
            "created_by",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # The secret cannot be edited into existence; revoking is the action above.
        return ["tenant", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> str:
        if obj.is_revoked:
            return "revoked"
        return "expired" if obj.is_expired() else "active"

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Created by the service, which generates and hashes the secret; the key is shown
        # once, in a message kept server-side (MESSAGE_STORAGE is the session).
        created, key = api_key_create(
            tenant=obj.tenant, name=obj.name, expires_at=obj.expires_at, created_by=request.user
        )
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False
        messages.warning(request, MSG_KEY_CREATED.format(key=key))


User = get_user_model()


class UserMembershipInline(MembershipInline):
    autocomplete_fields = ["tenant"]
    fields = ["tenant", "role", "created_at"]


class PlatformUserAdmin(UserAdmin):
    """Django's user admin, plus the organizations each person belongs to."""

    inlines = [UserMembershipInline]
    list_display = [*UserAdmin.list_display, "organizations"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__tenant")

    @admin.display(description="organizations")
    def organizations(self, obj) -> str:
        return ", ".join(f"{m.tenant.slug} ({m.role})" for m in obj.memberships.all()) or "—"


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PlatformUserAdmin)
