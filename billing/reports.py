"""The monthly billing report: per tenant, its requests and billed audio, priced at its plan.

Figures come from the usage log (one row per API request), so the report, the dashboard and
`GET /v1/usage` add up the same rows.
"""

import csv
import io
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from accounts.models import Tenant
from ops.spreadsheets import spreadsheet_cell

from .models import UsageRecord
from .periods import month_bounds
from .rounding import ROUNDING_RULE, billed_minutes, billing_amount
from .selectors import SUCCESSFUL, tenant_limits

__all__ = ["CSV_FIELDS", "ROUNDING_RULE", "BillingRow", "billing_csv", "billing_report"]
CSV_FIELDS = (
    "tenant",
    "month",
    "plan",
    "requests",
    "successful_requests",
    "billed_seconds",
    "billed_minutes",
    "price_per_minute",
    "currency",
    "amount",
)


@dataclass(frozen=True)
class BillingRow:
    tenant: str  # slug
    month: str  # YYYY-MM
    plan: str
    requests: int
    successful_requests: int
    billed_seconds: int
    billed_minutes: Decimal
    price_per_minute: Decimal
    currency: str
    amount: Decimal

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, so that no amount passes through a float."""
        return {
            name: str(value) if isinstance(value, Decimal) else value
            for name, value in asdict(self).items()
        }


def billing_report(*, year: int, month: int, tenant: Tenant | None = None) -> list[BillingRow]:
    """One row per tenant for the month: every active tenant (zeros included) and any other
    tenant with requests in the month; only `tenant` when given."""
    start, end = month_bounds(year, month)
    records = UsageRecord.objects.filter(
        tenant__isnull=False, created_at__gte=start, created_at__lt=end
    )
    tenants = Tenant.objects.filter(Q(is_active=True) | Q(usage_records__in=records)).distinct()
    if tenant is not None:
        records = records.filter(tenant=tenant)
        tenants = Tenant.objects.filter(pk=tenant.pk)
    totals = {
        row["tenant"]: row
        for row in records.values("tenant").annotate(
            requests=Count("id"),
            successful=Count("id", filter=SUCCESSFUL),
            billed=Coalesce(Sum("billed_seconds"), 0),
        )
    }
    rows = []
    for each in tenants.order_by("slug"):
        total = totals.get(each.pk, {})
        limits = tenant_limits(tenant=each)
        billed = total.get("billed", 0)
        rows.append(
            BillingRow(
                tenant=each.slug,
                month=f"{year:04d}-{month:02d}",
                plan=limits.plan,
                requests=total.get("requests", 0),
                successful_requests=total.get("successful", 0),
                billed_seconds=billed,
                billed_minutes=billed_minutes(billed),
                price_per_minute=limits.price_per_minute,
                currency=limits.currency,
                amount=billing_amount(
                    billed_seconds=billed, price_per_minute=limits.price_per_minute
                ),
            )
        )
    return rows


def billing_csv(rows: list[BillingRow]) -> str:
    """The report as CSV with a header line (what the dashboard offers for download)."""
    out = io.StringIO()
    # RFC 4180 line ends: a CR inside a cell is then quoted, not taken for a new row.
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: spreadsheet_cell(value) for name, value in row.as_dict().items()})
    return out.getvalue()
