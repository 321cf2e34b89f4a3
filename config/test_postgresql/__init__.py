"""Django's PostgreSQL backend for the test run (config.settings.test), flushing by DELETE."""
