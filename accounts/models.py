"""Tenants, their members and API keys. (Plans, quotas and the usage log: billing.models.)"""

import hashlib
import hmac
import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "sk-"
# The first characters after `sk-` are stored in clear to find the row; the rest is secret.
LOOKUP_LENGTH = 12
SECRET_LENGTH = 40
_ALPHABET = string.ascii_letters + string.digits


class Tenant(models.Model):
    """An organization: it owns keys, jobs and usage; nothing crosses between tenants."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The plan lives in billing (a string reference: accounts imports no higher app).
    plan = models.ForeignKey(
        "billing.Plan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tenants",
        help_text="Empty: the default plan.",
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="unique_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"


def hash_secret(secret: str) -> str:
    """HMAC-SHA256 of the whole key: a leaked database does not give usable keys."""
    return hmac.new(settings.API_KEY_PEPPER.encode(), secret.encode(), hashlib.sha256).hexdigest()


def generate_key() -> tuple[str, str]:
    """A new key and its public prefix (`sk-` + lookup part), about 300 bits of entropy."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(LOOKUP_LENGTH + SECRET_LENGTH))
    key = KEY_PREFIX + body
    return key, key[: len(KEY_PREFIX) + LOOKUP_LENGTH]


class ApiKey(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="This key's own limit, within the tenant's (empty: none)."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    def matches(self, key: str) -> bool:
        return hmac.compare_digest(self.hashed_key, hash_secret(key))

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_usable(self) -> bool:
        return not self.is_revoked and not self.is_expired()
