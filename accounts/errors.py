"""What accounts' services and selectors refuse (they know no HTTP)."""


class ApiKeyNotFound(Exception):
    """No such key (or not one of the tenants asked about)."""


class MembershipNotFound(Exception):
    """No such membership in the tenants asked about."""


class MembershipError(Exception):
    """A change of an organization's members that is refused (the message says why)."""
