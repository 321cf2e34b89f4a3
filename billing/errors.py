"""What the plan refuses. Raised by billing's services; they know no HTTP: the API's one
error table (api/errors.py) says which status, type, code and headers each one gets."""


class BillingError(Exception):
    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds after which trying again may pass


class QuotaExceeded(BillingError):
    """This month's audio seconds would be exceeded: waiting a moment does not help."""


class TooManyJobs(BillingError):
    """The tenant's concurrent-jobs limit is reached."""


class RateLimited(BillingError):
    """Over the plan's (or the key's) requests per minute."""

    def __init__(self, message: str, *, retry_after: int, state: object) -> None:
        super().__init__(message, retry_after=retry_after)
        self.state = state  # the refusing bucket (billing.ratelimit.RateLimit): the headers


class AudioTooLong(BillingError):
    """The audio is longer than the plan allows per file."""


class IdempotencyKeyTooLong(BillingError):
    pass


class IdempotencyKeyReused(BillingError):
    """The same Idempotency-Key with another request body."""


class IdempotencyKeyInUse(BillingError):
    """The first request with this key is still being processed."""


class IdempotencyKeyPending(IdempotencyKeyInUse):
    """The first request with this key has no job yet: a caller that may wait (without a
    thread) waits for it, then claims the key again; any other answers as IdempotencyKeyInUse."""

    def __init__(self, message: str, *, retry_after: int, tenant: object, key: str) -> None:
        super().__init__(message, retry_after=retry_after)
        self.tenant = tenant
        self.key = key
