"""The date range of the usage pages: a preset (this month, last month, the last 7 or 30
days) or any custom range, read from the query string. An invalid range is an error shown on
the page, never silently replaced by another range."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from billing.periods import month_last_day, month_or_current, month_shift, parse_month

# As GET /v1/usage: a year and a day at most in one page.
MAX_RANGE_DAYS = 366

MSG_BAD_DATE = "“{value}” is not a date: use YYYY-MM-DD."
MSG_BAD_MONTH = "“{value}” is not a month: use YYYY-MM."
MSG_END_BEFORE_START = "The end ({end}) is before the start ({start})."
MSG_TOO_LONG = "At most {days} days can be shown at once."
MSG_NEEDS_BOTH = "A custom range needs both a start and an end date."
MSG_UNKNOWN_PRESET = "“{value}” is not one of the ranges offered."

PRESETS = [
    ("this-month", "This month"),
    ("last-month", "Last month"),
    ("last-7", "Last 7 days"),
    ("last-30", "Last 30 days"),
]
CUSTOM = "custom"


def preset_range(preset: str, *, today: date) -> tuple[date, date]:
    """The days (inclusive) of a preset, ending today for the rolling ones."""
    first = today.replace(day=1)
    if preset == "last-month":
        previous = month_shift(first, -1)
        return previous, month_last_day(previous)
    if preset == "last-7":
        return today - timedelta(days=6), today
    if preset == "last-30":
        return today - timedelta(days=29), today
    return first, today  # this month so far


@dataclass
class DateRange:
    start: date
    end: date
    preset: str  # one of PRESETS' keys, or CUSTOM
    errors: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def query(self) -> str:
        """The query string that gives this range again (for links and CSV downloads)."""
        if self.preset == CUSTOM:
            return f"from={self.start.isoformat()}&to={self.end.isoformat()}"
        return f"range={self.preset}"


def _date(raw: str, errors: list[str]) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors.append(MSG_BAD_DATE.format(value=raw))
        return None


def date_range_from(params, *, today: date) -> DateRange:
    """The range asked for in `params` (`range=<preset>`, or `from` and `to`, or `month`
    as YYYY-MM); this month when nothing is asked; this month with the errors when what was
    asked is not a valid range."""
    raw_from, raw_to = params.get("from", "").strip(), params.get("to", "").strip()
    raw_month = params.get("month", "").strip()
    errors: list[str] = []
    if raw_from or raw_to:
        start = _date(raw_from, errors) if raw_from else None
        end = _date(raw_to, errors) if raw_to else None
        if not errors and (start is None or end is None):
            errors.append(MSG_NEEDS_BOTH)
        if not errors and end < start:
            errors.append(MSG_END_BEFORE_START.format(start=start, end=end))
        if not errors and (end - start).days + 1 > MAX_RANGE_DAYS:
            errors.append(MSG_TOO_LONG.format(days=MAX_RANGE_DAYS))
        if not errors:
            return DateRange(start=start, end=end, preset=CUSTOM)
    elif raw_month:
        try:
            parse_month(raw_month)
        except ValueError:
            errors.append(MSG_BAD_MONTH.format(value=raw_month))
        else:
            first = month_or_current(raw_month, today=today)
            return DateRange(start=first, end=month_last_day(first), preset=CUSTOM)
    else:
        preset = params.get("range", "this-month")
        if preset in dict(PRESETS):
            start, end = preset_range(preset, today=today)
            return DateRange(start=start, end=end, preset=preset)
        errors.append(MSG_UNKNOWN_PRESET.format(value=preset))
    start, end = preset_range("this-month", today=today)
    return DateRange(start=start, end=end, preset="this-month", errors=errors)
