"""Template filters of the dashboard: times, durations and language names for people."""

from django import template

from speech.languages import language_label as _language_label

register = template.Library()


@register.filter
def timecode(seconds: float | None) -> str:
    """A segment time as `m:ss.s` (or `h:mm:ss.s` past an hour)."""
    if seconds is None:
        return ""
    tenths = max(0, round(float(seconds) * 10))
    hours, tenths = divmod(tenths, 36_000)
    minutes, tenths = divmod(tenths, 600)
    secs, tenths = divmod(tenths, 10)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}.{tenths}"
    return f"{minutes}:{secs:02d}.{tenths}"


@register.filter
def duration(seconds: float | None) -> str:
    """An audio length for people: `11.0 s`, `4 min 05 s`, `1 h 02 min`."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


@register.filter
def language_label(code: str | None) -> str:
    return _language_label(code) if code else "—"
