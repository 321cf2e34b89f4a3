"""Operators' admin for the worker registry."""

from django.contrib import admin

from .models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "models", "started_at", "last_seen"]
    list_filter = ["hostname"]
    search_fields = ["hostname", "pid"]
    date_hierarchy = "last_seen"
    ordering = ["-last_seen"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # written by the workers themselves

    @admin.display(description="models")
    def models(self, obj: WorkerHeartbeat) -> str:
        return ", ".join(obj.loaded_models) or "—"
