"""Calendar months in UTC: the quota period and the billing period are the same month."""

import re
from datetime import UTC, date, datetime, timedelta

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


def month_start(moment: datetime | date) -> date:
    """The first day of the (UTC) month of `moment`."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def month_end(period: date) -> datetime:
    """The instant the month starting at `period` ends: midnight UTC of the next month's 1st."""
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = date(year, month, 1)
    return datetime(year, month, 1, tzinfo=UTC), month_end(start)


def parse_month(text: str) -> tuple[int, int]:
    """`2026-11` -> (2026, 11); ValueError for anything else."""
    match = MONTH_PATTERN.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month as YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def month_last_day(first: date) -> date:
    """The last day of the month starting at `first`."""
    return (month_end(first) - timedelta(days=1)).date()


def month_shift(first: date, months: int) -> date:
    """The first day of the month `months` after (or before) the one starting at `first`."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_or_current(text: str | None, *, today: date) -> date:
    """The first day of the month given as YYYY-MM; `today`'s month when absent or invalid."""
    try:
        year, month = parse_month(text or "")
    except ValueError:
        return today.replace(day=1)
    return date(year, month, 1)
