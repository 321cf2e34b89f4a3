"""Operators' admin for plans, overrides, the quota counters, the usage log and Idempotency-Key
records; and, on the tenant pages of accounts' admin, the plan override and the billing report."""

from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from accounts.admin import TenantAdmin
from accounts.models import Tenant

from .models import (
    LIMIT_FIELDS,
    ActiveJobs,
    IdempotencyRecord,
    Plan,
    PlanOverride,
    QuotaPeriod,
    RequestCounter,
    UsageRecord,
)
from .periods import parse_month
from .reports import ROUNDING_RULE, billing_csv, billing_report
from .selectors import plan_default


class PlanOverrideInline(admin.StackedInline):
    model = PlanOverride
    extra = 0
    max_num = 1
    verbose_name_plural = "limits overriding the plan (empty: the plan's value)"


class TenantBillingAdmin(TenantAdmin):
    """accounts' tenant admin, with the tenant's plan override and the billing report."""

    inlines = [PlanOverrideInline, *TenantAdmin.inlines]
    list_display = [
        "plan_or_default" if name == "plan" else name for name in TenantAdmin.list_display
    ]

    @admin.display(description="plan", ordering="plan__slug")
    def plan_or_default(self, obj) -> str:
        """The plan billing applies: a tenant with none chosen is on the default plan, which
        the list says instead of "-"."""
        return obj.plan.slug if obj.plan_id else f"{plan_default().slug} (no plan chosen)"

    change_list_template = "admin/accounts/tenant/change_list.html"

    def get_urls(self):
        billing = self.admin_site.admin_view(self.billing_view)
        return [path("billing/", billing, name="accounts_tenant_billing"), *super().get_urls()]

    def billing_view(self, request: HttpRequest) -> HttpResponse:
        """The monthly billing report of every tenant, as a table or (?format=csv) a file."""
        today = timezone.now().date()
        try:
            year, month = parse_month(request.GET.get("month", ""))
        except ValueError:
            year, month = today.year, today.month
        rows = billing_report(year=year, month=month)
        if request.GET.get("format") == "csv":
            response = HttpResponse(billing_csv(rows), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="billing-{year:04d}-{month:02d}.csv"'
            )
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Billing report, {year:04d}-{month:02d}",
            "month": f"{year:04d}-{month:02d}",
            "rows": rows,
            "rounding_rule": ROUNDING_RULE,
        }
        return TemplateResponse(request, "admin/accounts/tenant/billing.html", context)


admin.site.unregister(Tenant)
admin.site.register(Tenant, TenantBillingAdmin)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "name",
        "is_default",
        "monthly_audio_seconds",
        "requests_per_minute",
        "concurrent_jobs",
        "max_file_bytes",
        "max_audio_seconds",
        "price_per_minute",
        "currency",
        "retention_days",
        "tenant_count",
    ]
    list_filter = ["is_default", "currency", "created_at"]
    search_fields = ["slug", "name"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_tenants=Count("tenants"))

    @admin.display(description="tenants", ordering="n_tenants")
    def tenant_count(self, obj: Plan) -> int:
        return obj.n_tenants


@admin.register(PlanOverride)
class PlanOverrideAdmin(admin.ModelAdmin):
    list_display = ["tenant", *LIMIT_FIELDS, "updated_at"]
    search_fields = ["tenant__slug", "tenant__name"]
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]
    date_hierarchy = "updated_at"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the platform writes itself (counters, logs): shown, never edited by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "tenant",
        "key",
        "method",
        "endpoint",
        "model",
        "status_code",
        "error_code",
        "audio_seconds",
        "billed_seconds",
        "processing_ms",
        "replayed",
    ]
    list_filter = ["status_code", "endpoint", "model", "replayed", "tenant", "created_at"]
    search_fields = ["request_id", "job_id", "tenant__slug", "api_key__prefix", "error_code"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "api_key"]
    list_per_page = 100

    @admin.display(description="key", ordering="api_key__prefix")
    def key(self, obj: UsageRecord) -> str:
        return obj.api_key.prefix if obj.api_key else "—"


@admin.register(RequestCounter)
class RequestCounterAdmin(ReadOnlyAdmin):
    """Every /v1 request counted by endpoint and status since the start, those that named no
    tenant (and so have no usage row) included: a flood of 401s shows here."""

    list_display = ["endpoint", "status_code", "requests", "processing_ms", "billed_seconds"]
    list_filter = ["status_code"]
    search_fields = ["endpoint"]


@admin.register(QuotaPeriod)
class QuotaPeriodAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "period", "used_seconds", "reserved_seconds"]
    list_filter = ["period", "tenant"]
    search_fields = ["tenant__slug", "tenant__name"]
    date_hierarchy = "period"
    list_select_related = ["tenant"]


@admin.register(ActiveJobs)
class ActiveJobsAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "count"]
    search_fields = ["tenant__slug", "tenant__name"]
    list_select_related = ["tenant"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "key", "request_id", "job_id", "created_at"]
    list_filter = ["tenant", "created_at"]
    search_fields = ["key", "request_id", "job_id", "tenant__slug"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant"]
