"""Plans and their per-tenant overrides, the quota counters, the usage log and the
Idempotency-Key records.

These models lived in `accounts` until the layout of issue 10: they keep their tables
(`db_table`), so moving them moved no data (migrations: accounts 0004, billing 0001).
"""

from django.db import models
from django.utils import timezone

from accounts.models import ApiKey, Tenant

# What a tenant gets when nobody chose otherwise: the "default" plan row (a data migration
# creates it) and, should that row be missing, the same figures from here.
DEFAULT_PLAN = {
    "slug": "default",
    "name": "Default",
    "monthly_audio_seconds": 360_000,  # 100 hours
    "requests_per_minute": 6_000,
    "concurrent_jobs": 64,
    "max_file_bytes": 26_214_400,  # OpenAI's 25 MB
    "max_audio_seconds": 7_200,
    "price_per_minute": "0.0060",  # OpenAI's whisper-1 price, in USD
    "currency": "USD",
    "retention_days": 30,
}
LIMIT_FIELDS = (
    "monthly_audio_seconds",
    "requests_per_minute",
    "concurrent_jobs",
    "max_file_bytes",
    "max_audio_seconds",
    "price_per_minute",
    "retention_days",
)


class Plan(models.Model):
    """What a tenant may use and what it pays: the limits the API enforces and the price the
    billing report applies."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(
        default=False, help_text="The plan of every tenant that has none chosen."
    )
    monthly_audio_seconds = models.PositiveBigIntegerField(
        help_text="Audio seconds a tenant may use per calendar month (UTC)."
    )
    requests_per_minute = models.PositiveIntegerField(
        help_text="API requests per minute, for the tenant and for each of its keys."
    )
    concurrent_jobs = models.PositiveIntegerField(help_text="Jobs queued or running at once.")
    max_file_bytes = models.PositiveBigIntegerField(help_text="Largest upload, in bytes.")
    max_audio_seconds = models.PositiveIntegerField(help_text="Longest audio, in seconds.")
    price_per_minute = models.DecimalField(
        max_digits=10, decimal_places=4, help_text="Price per billed audio minute."
    )
    currency = models.CharField(max_length=3, default="USD")
    retention_days = models.PositiveIntegerField(
        help_text="Days transcripts are kept (0: forever)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_plan"
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_plan",
            ),
            models.CheckConstraint(
                condition=models.Q(price_per_minute__gte=0), name="plan_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class PlanOverride(models.Model):
    """One tenant's exceptions to its plan: a field left empty keeps the plan's value."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="plan_override")
    monthly_audio_seconds = models.PositiveBigIntegerField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    concurrent_jobs = models.PositiveIntegerField(null=True, blank=True)
    max_file_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    max_audio_seconds = models.PositiveIntegerField(null=True, blank=True)
    price_per_minute = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_planoverride"

    def __str__(self) -> str:
        return f"limits of {self.tenant}"


class QuotaPeriod(models.Model):
    """A tenant's audio seconds in one calendar month: reserved by jobs in flight, used by
    jobs that ended. Only changed by conditional UPDATEs (billing.services.quota)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quota_periods")
    period = models.DateField(help_text="First day of the month (UTC)")
    reserved_seconds = models.BigIntegerField(default=0)
    used_seconds = models.BigIntegerField(default=0)

    class Meta:
        db_table = "accounts_quotaperiod"
        ordering = ["tenant", "-period"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period"], name="unique_quota_period"),
            models.CheckConstraint(
                condition=models.Q(reserved_seconds__gte=0), name="quota_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(used_seconds__gte=0), name="quota_used_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.period:%Y-%m}"


class ActiveJobs(models.Model):
    """How many of a tenant's jobs hold a concurrency slot (queued or running).

    A counter of its own, not a column of Tenant, so that saving a tenant (admin, dashboard)
    can never write back a stale count."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="active_jobs"
    )
    count = models.IntegerField(default=0)

    class Meta:
        db_table = "accounts_activejobs"
        # "1 active-jobs counter" in the admin, not "1 active jobs".
        verbose_name = "active-jobs counter"
        verbose_name_plural = "active-jobs counters"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(count__gte=0), name="active_jobs_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.count}"


class ImmutableRecord(Exception):
    pass


# The `endpoint` of the row of a job submitted from the dashboard's upload page (no API key):
# billed and reported as an API request's row, and telling where it came from.
DASHBOARD_ENDPOINT = "dashboard"


class UsageRecord(models.Model):
    """One API request, whatever its outcome. A request that creates a job has it written with
    the job (pending); later only the request log's figures (status, bytes, time) and the
    settlement change it: `billed_seconds` goes from empty to its value exactly once, when the
    job ends. Never saved twice (billing.services.usage updates it)."""

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="usage_records"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_records"
    )
    request_id = models.CharField(max_length=64, unique=True)
    method = models.CharField(max_length=8)
    endpoint = models.CharField(max_length=200)
    model = models.CharField(max_length=64, blank=True)
    # The job's public id, not a foreign key: deleting a job must not delete what it cost.
    job_id = models.CharField(max_length=40, blank=True, db_index=True)
    status_code = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, blank=True)
    request_bytes = models.PositiveBigIntegerField(default=0)
    audio_seconds = models.FloatField(null=True, blank=True)
    billed_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty while the request's job has not ended"
    )
    processing_ms = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=255, blank=True)
    replayed = models.BooleanField(
        default=False, help_text="Answered from an earlier request with the same Idempotency-Key"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "accounts_usagerecord"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.request_id} {self.method} {self.endpoint} {self.status_code}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ImmutableRecord("usage records are written once (see usage_record_settle)")
        super().save(*args, **kwargs)

    @property
    def is_successful(self) -> bool:
        return self.status_code < 400 and not self.error_code


# Latency buckets of the request counters, in milliseconds (Prometheus' `le`, cumulative).
LATENCY_BUCKETS_MS = (
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    120_000,
    300_000,
)


def latency_bucket_field(ms: int) -> str:
    return f"ms_le_{ms}"


class RequestCounter(models.Model):
    """Cumulative figures of every /v1 request per (endpoint, status), what /metrics reports.

    Why counters and not the usage log: a scrape reads these few rows (routes x statuses,
    unknown paths sharing one endpoint) whatever the size of the log, and a refused request
    without a key is counted here instead of being stored as a row of its own. Why one row per
    (endpoint, status) and not per day: Prometheus counters must never go down, so nothing
    purges them; they stay a few hundred rows forever. Why in the database rather than the
    cache: every web process on every machine reports the same totals (the embedded setup's
    cache is per process), and a Redis restart or eviction would lose them. Only changed by
    conditional `F()` UPDATEs (billing.services.counters), so concurrent processes never lose
    an increment.
    """

    endpoint = models.CharField(max_length=200)
    status_code = models.PositiveSmallIntegerField()
    requests = models.PositiveBigIntegerField(default=0)
    processing_ms = models.PositiveBigIntegerField(default=0, help_text="Sum of the latencies")
    ms_le_50 = models.PositiveBigIntegerField(default=0)
    ms_le_100 = models.PositiveBigIntegerField(default=0)
    ms_le_250 = models.PositiveBigIntegerField(default=0)
    ms_le_500 = models.PositiveBigIntegerField(default=0)
    ms_le_1000 = models.PositiveBigIntegerField(default=0)
    ms_le_2500 = models.PositiveBigIntegerField(default=0)
    ms_le_5000 = models.PositiveBigIntegerField(default=0)
    ms_le_10000 = models.PositiveBigIntegerField(default=0)
    ms_le_30000 = models.PositiveBigIntegerField(default=0)
    ms_le_60000 = models.PositiveBigIntegerField(default=0)
    ms_le_120000 = models.PositiveBigIntegerField(default=0)
    ms_le_300000 = models.PositiveBigIntegerField(default=0)
    audio_seconds = models.FloatField(default=0, help_text="Measured, of settled requests")
    billed_seconds = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["endpoint", "status_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "status_code"], name="unique_request_counter"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.status_code}: {self.requests}"


class IdempotencyRecord(models.Model):
    """The first request made with an `Idempotency-Key`: a retry with the same key and body
    is answered from its job instead of creating (and billing) another."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body")
    request_id = models.CharField(max_length=64)
    job_id = models.CharField(max_length=40, blank=True, help_text="Empty while it is created")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "accounts_idempotencyrecord"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="unique_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.key}"
