"""Operators' admin for the live sessions' rows: shown, never added or changed."""

from django.contrib import admin

from .models import LivePreview, LiveSession


class LiveRowsAdmin(admin.ModelAdmin):
    """Rows the live sessions write and delete themselves: shown, never added or changed."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LivePreview)
class LivePreviewAdmin(LiveRowsAdmin):
    """Live sessions' interim decodes in flight: a row lives for a second or two (its session
    deletes it once read); rows left by sessions that ended abruptly are purged after ten
    minutes. The audio and its text are not shown."""

    list_display = ["pk", "tenant", "model", "status", "created_at"]
    list_filter = ["status", "tenant"]
    fields = ["tenant", "model", "language", "status", "created_at"]
    readonly_fields = fields
    list_select_related = ["tenant"]


@admin.register(LiveSession)
class LiveSessionAdmin(LiveRowsAdmin):
    """Realtime sessions open now, as counted against each tenant's cap: a row whose `seen_at`
    is over a minute old is a session whose web process died, and no longer counts."""

    list_display = ["public_id", "tenant", "opened_at", "seen_at"]
    list_filter = ["tenant"]
    fields = list_display
    readonly_fields = fields
    list_select_related = ["tenant"]
