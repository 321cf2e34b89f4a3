"""`manage.py billing_report --month 2026-11 [--tenant SLUG] [--format table|csv|json]`"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Tenant
from billing.periods import parse_month
from billing.reports import CSV_FIELDS, ROUNDING_RULE, BillingRow, billing_csv, billing_report

# The one command that composes two layers (pyproject.toml's import contract lists it): usage
# rows whose job ended without recording its cost are settled by transcriptions first.
from transcriptions.services import usage_records_settle_pending

HEADERS = {
    "tenant": "tenant",
    "month": "month",
    "plan": "plan",
    "requests": "requests",
    "successful_requests": "successful",
    "billed_seconds": "billed s",
    "billed_minutes": "billed min",
    "price_per_minute": "price/min",
    "currency": "cur",
    "amount": "amount",
}
NUMERIC = {
    "requests",
    "successful_requests",
    "billed_seconds",
    "billed_minutes",
    "price_per_minute",
    "amount",
}


def table(rows: list[BillingRow]) -> str:
    cells = [[HEADERS[name] for name in CSV_FIELDS]]
    cells += [[str(value) for value in row.as_dict().values()] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(CSV_FIELDS))]
    lines = []
    for line in cells:
        lines.append(
            "  ".join(
                cell.rjust(width) if name in NUMERIC else cell.ljust(width)
                for cell, width, name in zip(line, widths, CSV_FIELDS, strict=True)
            ).rstrip()
        )
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Billing figures per tenant for one month, from the usage log."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--month", help="YYYY-MM (default: the current month, UTC)")
        parser.add_argument("--tenant", help="only this tenant (slug)")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")

    def handle(self, *args, month: str | None, tenant: str | None, format: str, **options):
        try:
            year, number = parse_month(month or timezone.now().strftime("%Y-%m"))
        except ValueError as exc:
            raise CommandError(f"--month: {exc}") from exc
        only = None
        if tenant:
            only = Tenant.objects.filter(slug=tenant).first()
            if only is None:
                raise CommandError(f"No tenant {tenant!r}")
        # Requests whose job ended while its worker could not record the cost: settle first.
        usage_records_settle_pending()
        rows = billing_report(year=year, month=number, tenant=only)
        if format == "csv":
            self.stdout.write(billing_csv(rows), ending="")
        elif format == "json":
            payload = {
                "month": f"{year:04d}-{number:02d}",
                "rounding_rule": ROUNDING_RULE,
                "rows": [row.as_dict() for row in rows],
            }
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            self.stdout.write(table(rows))
            self.stdout.write(f"\nRounding: {ROUNDING_RULE}")
