"""How many successful task runs the operator's task monitor keeps (django-q2's "Successful
tasks" in the admin).

django-q2 can prune them itself (Q_CLUSTER `save_limit` > 0), but it does so in the monitor at
the end of every task: one transaction that loads every kept success with SELECT ... FOR UPDATE
(arguments and results unpickled) to count them, then deletes the oldest: on SQLite that holds
the one write lock at the end of every task, and on PostgreSQL it locks every kept row, so the
clusters' monitors take turns. So `save_limit` is
0 (kept, never pruned in the task's path) and a schedule keeps the newest TASK_HISTORY_KEEP
here every minute, in a few statements, off every task's path.
"""

from django.conf import settings
from django_q.models import Success

# Rows deleted per statement: a long backlog is deleted without one huge IN list.
_BATCH = 500


def task_history_prune(*, keep: int | None = None) -> int:
    """Delete the successful task runs past the newest `keep` (TASK_HISTORY_KEEP); how many.
    Failures are kept, as django-q2 keeps them: an operator reads them to see what went wrong."""
    keep = settings.TASK_HISTORY_KEEP if keep is None else keep
    deleted = 0
    while True:
        # The newest first, as the task monitor lists them (ties by id, for a stable cut).
        older = list(
            Success.objects.order_by("-stopped", "-id").values_list("id", flat=True)[
                keep : keep + _BATCH
            ]
        )
        if not older:
            return deleted
        deleted += Success.objects.filter(id__in=older).delete()[0]
