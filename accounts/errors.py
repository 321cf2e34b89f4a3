"""What accounts' services and selectors refuse (they know no HTTP)."""


class ApiKeyNotFound(Exception):
    """No such key (or not one of the tenants asked about)."""
