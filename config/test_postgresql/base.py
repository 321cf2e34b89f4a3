"""Django's PostgreSQL backend, with one change for the test run: `flush`, which ends every
`transaction=True` test, empties the tables with DELETE instead of TRUNCATE.

TRUNCATE gives every table (and index) a new file on disk, which costs about a second for this
schema whatever the tables hold; a test leaves a handful of rows, which DELETE removes in a
fraction of that. The end state is the same: every table empty. Django creates foreign keys
DEFERRABLE INITIALLY DEFERRED and `flush` runs in one transaction, so the order of the DELETEs
does not matter. A flush that resets sequences or cascades keeps Django's own SQL.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
