"""The rounding rule of billing, stated once and applied by the code beside it."""

import math
from decimal import ROUND_HALF_UP, Decimal

ROUNDING_RULE = (
    "Each successful request is billed its audio duration rounded up to the next whole second "
    "(10.2 s is billed 11 s); failed, cancelled and replayed (Idempotency-Key) requests are "
    "billed 0 s, except for the audio they covered anyway: a stream cancelled or failed after "
    "text was sent is billed up to the end of the last segment sent, and a file that decodes "
    "longer than it measured is billed what was decoded, up to what was reserved. Billed minutes = billed seconds / 60, shown to 2 decimals. Amount = billed "
    "seconds x price per minute / 60, rounded half up to the cent once per tenant and month."
)
CENT = Decimal("0.01")


def billed_seconds(duration: float) -> int:
    """Audio is billed per started second (a 10.2 s clip is 11 s)."""
    return max(0, math.ceil(round(duration, 3)))


def billed_minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(CENT, ROUND_HALF_UP)


def billing_amount(*, billed_seconds: int, price_per_minute: Decimal) -> Decimal:
    return (Decimal(billed_seconds) * price_per_minute / 60).quantize(CENT, ROUND_HALF_UP)
