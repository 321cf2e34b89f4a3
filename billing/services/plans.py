"""Moving a tenant between plans and overriding some of its plan's limits."""

from typing import Any

from django.utils import timezone

from accounts.models import Tenant

from ..errors import AudioTooLong
from ..models import LIMIT_FIELDS, Plan, PlanOverride
from ..selectors import Limits, tenant_limits_forget

MSG_AUDIO_TOO_LONG = (
    "The audio is {duration} seconds long, over this plan's limit of {limit} seconds per file."
)
# When the audio's own length (measured from its packets, which stops past the limit) is over
# the limit but its header claims less: the header lies, so it is not quoted.
MSG_AUDIO_TOO_LONG_MEASURED = (
    "The audio is longer than this plan's limit of {limit} seconds per file (measured from the "
    "audio itself, not from its header)."
)


def tenant_plan_set(*, tenant: Tenant, plan: Plan | None) -> Tenant:
    """Move a tenant to a plan (None: back to the default plan)."""
    Tenant.objects.filter(pk=tenant.pk).update(plan=plan)
    tenant.plan = plan
    tenant_limits_forget(tenant=tenant)
    return tenant


def plan_override_set(*, tenant: Tenant, **values: Any) -> PlanOverride:
    """Set some of a tenant's limits apart from its plan; a value of None inherits again."""
    unknown = set(values) - set(LIMIT_FIELDS)
    if unknown:
        raise ValueError(f"not a plan limit: {', '.join(sorted(unknown))}")
    override, _ = PlanOverride.objects.get_or_create(tenant=tenant)
    for name, value in values.items():
        setattr(override, name, value)
    override.updated_at = timezone.now()
    override.save()
    tenant_limits_forget(tenant=tenant)
    return override


def plan_check_duration(*, limits: Limits, seconds: float, declared: float | None = None) -> None:
    """Refuse audio longer than the plan allows, before anything is stored or reserved.
    `seconds` is measured; `declared` (the header's figure) only words the message."""
    if seconds > limits.max_audio_seconds:
        if declared is not None and declared >= seconds:
            message = MSG_AUDIO_TOO_LONG.format(
                duration=round(declared, 1), limit=limits.max_audio_seconds
            )
        else:
            message = MSG_AUDIO_TOO_LONG_MEASURED.format(limit=limits.max_audio_seconds)
        raise AudioTooLong(message)
