"""Operators' admin for jobs and their callbacks (the workers: ops/admin.py). The django-q2 task
monitor (queued, successful and failed tasks, schedules) is registered by django_q itself."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from billing.errors import QuotaExceeded, TooManyJobs

from .models import CallbackAttempt, CallbackSecret, Chunk, Job
from .services import job_delete, job_retry

MSG_RETRIED = "Queued {count} job(s) again."
MSG_NOT_RETRIED = (
    "{count} job(s) were not retried: only failed jobs whose audio is still stored "
    "(RETAIN_AUDIO=true) can run again."
)


@admin.action(description="Retry selected failed jobs")
def retry_jobs(modeladmin, request, queryset) -> None:
    retried = 0
    refused = []
    for job in queryset:
        try:
            retried += job_retry(job=job)
        except (QuotaExceeded, TooManyJobs) as exc:  # the tenant's limits hold for retries too
            refused.append(f"{job.public_id}: {exc.message}")
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)
    skipped = queryset.count() - retried - len(refused)
    if retried:
        modeladmin.message_user(request, MSG_RETRIED.format(count=retried), messages.SUCCESS)
    if skipped:
        modeladmin.message_user(request, MSG_NOT_RETRIED.format(count=skipped), messages.WARNING)


class CallbackAttemptInline(admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    can_delete = False
    fields = ["number", "status_code", "delivered", "error", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ChunkInline(admin.TabularInline):
    """The pieces a job was cut into: where each ran, how often, and how far it got."""

    model = Chunk
    extra = 0
    can_delete = False
    fields = [
        "index",
        "start_seconds",
        "status",
        "worker",
        "attempts",
        "started_at",
        "finished_at",
        "covered_seconds",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "tenant",
        "status",
        "task",
        "requested_model",
        "audio_duration",
        "detected_language",
        "key",
        "created_at",
        "processing",
    ]
    list_filter = ["status", "task", "model", "response_format", "tenant", "created_at"]
    search_fields = [
        "public_id",
        "request_id",
        "audio_filename",
        "text",
        "tenant__slug",
        "api_key__prefix",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "api_key"]
    list_per_page = 50
    actions = [retry_jobs]
    inlines = [ChunkInline, CallbackAttemptInline]
    fieldsets = [
        (None, {"fields": ["public_id", "dashboard_link", "tenant", "api_key", "request_id"]}),
        (
            "State",
            {
                "fields": [
                    "status",
                    "progress",
                    "chunk_count",
                    "attempts",
                    "error_code",
                    "error_message",
                ]
            },
        ),
        (
            "Request",
            {
                "fields": [
                    "task",
                    "requested_model",
                    "model",
                    "language",
                    "languages",
                    "prompt",
                    "keywords",
                    "response_format",
                    "include",
                    "temperature",
                    "timestamp_granularities",
                    "stream",
                ]
            },
        ),
        (
            "Audio",
            {
                "fields": [
                    "audio",
                    "audio_filename",
                    "audio_bytes",
                    "audio_format",
                    "probed_duration",
                ]
            },
        ),
        ("Result", {"fields": ["detected_language", "duration", "text"]}),
        ("Times", {"fields": ["created_at", "started_at", "finished_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # A job is a record of what happened: operators act on it, they do not edit it.
        return [f.name for f in Job._meta.fields] + ["dashboard_link"]

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj: Job) -> None:
        job_delete(job=obj)  # removes the stored audio too, cancelling a job still running

    def delete_queryset(self, request, queryset) -> None:
        for job in queryset:
            job_delete(job=job)

    @admin.display(description="duration", ordering="duration")
    def audio_duration(self, obj: Job) -> str:
        seconds = obj.duration if obj.duration is not None else obj.probed_duration
        return f"{seconds:.1f} s" if seconds else "—"

    @admin.display(description="key", ordering="api_key__prefix")
    def key(self, obj: Job) -> str:
        return obj.api_key.prefix if obj.api_key else "—"

    @admin.display(description="processing")
    def processing(self, obj: Job) -> str:
        seconds = obj.processing_seconds
        return f"{seconds:.2f} s" if seconds is not None else "—"

    @admin.display(description="dashboard")
    def dashboard_link(self, obj: Job) -> str:
        url = reverse("dashboard:transcript", args=[obj.public_id])
        return format_html('<a href="{}">Open the transcript page</a>', url)


@admin.register(CallbackAttempt)
class CallbackAttemptAdmin(admin.ModelAdmin):
    list_display = ["job", "number", "delivered", "status_code", "error", "created_at"]
    list_filter = ["delivered", "created_at"]
    search_fields = ["job__public_id", "job__tenant__slug", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["job"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a log of deliveries


@admin.register(CallbackSecret)
class CallbackSecretAdmin(admin.ModelAdmin):
    list_display = ["tenant", "created_at"]
    search_fields = ["tenant__slug", "tenant__name"]
    readonly_fields = ["tenant", "created_at"]
    fields = ["tenant", "created_at"]  # the secret itself is not displayed

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    """Every chunk across jobs: what waits, what runs where (the queue as the policy sees it)."""

    list_display = [
        "job",
        "index",
        "tenant",
        "status",
        "interactive",
        "worker",
        "attempts",
        "arrived_at",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "interactive", "tenant"]
    search_fields = ["job__public_id", "tenant__slug", "worker"]
    list_select_related = ["job", "tenant"]
    list_per_page = 100
    exclude = ["result", "partial_text"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Chunk._meta.fields if f.name not in self.exclude]

    def has_add_permission(self, request) -> bool:
        return False

    def get_actions(self, request):
        # Chunks go with their job (its delete cascades to them), never one by one.
        return {}
