"""CSV cells a spreadsheet reads as data, never as a formula.

Excel, LibreOffice and Google Sheets evaluate a cell that starts with `=`, `+`, `-` or `@`
(and tab or CR, which they skip first): a tenant's model name or key name such as
`=HYPERLINK(...)` would run in the operator's spreadsheet. OWASP's remedy: a leading single
quote, which makes the cell text.
"""

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """`value` as a CSV cell: text that a spreadsheet would evaluate is quoted; numbers pass."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
