"""`manage.py set_tenant_limits acme --plan pro --requests-per-minute 60 ...`: an operator sets a
tenant's plan and its own exceptions to it (`--x default` goes back to the plan's value)."""

from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from billing.models import LIMIT_FIELDS, Plan
from billing.selectors import tenant_limits
from billing.services import plan_override_set, tenant_plan_set

INHERIT = "default"


class Command(BaseCommand):
    help = "Set a tenant's plan and per-tenant overrides of the plan's limits; prints the result."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("--plan", help=f"plan slug ('{INHERIT}': the default plan)")
        for name in LIMIT_FIELDS:
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                dest=name,
                help=f"override ('{INHERIT}': the plan's value)",
            )

    def handle(self, *args, tenant: str, plan: str | None, **options) -> None:
        target = Tenant.objects.filter(slug=tenant).first()
        if target is None:
            raise CommandError(f"No tenant {tenant!r}")
        if plan is not None:
            chosen = None
            if plan != INHERIT:
                chosen = Plan.objects.filter(slug=plan).first()
                if chosen is None:
                    raise CommandError(f"No plan {plan!r}")
            tenant_plan_set(tenant=target, plan=chosen)
        overrides = {}
        for name in LIMIT_FIELDS:
            raw = options.get(name)
            if raw is not None:
                overrides[name] = self._value(name, raw)
        if overrides:
            plan_override_set(tenant=target, **overrides)
        limits = tenant_limits(tenant=target)
        for name, value in vars(limits).items():
            self.stdout.write(f"{name}: {value}")

    @staticmethod
    def _value(name: str, raw: str) -> int | Decimal | None:
        if raw == INHERIT:
            return None
        try:
            value = Decimal(raw) if name == "price_per_minute" else int(raw)
        except (ValueError, InvalidOperation) as exc:
            raise CommandError(f"--{name.replace('_', '-')}: {raw!r} is not a number") from exc
        if value < 0:
            raise CommandError(f"--{name.replace('_', '-')}: must not be negative")
        return value
