"""django-q2's ORM broker (the embedded setup's queue), woken by each new task.

The stock broker's pusher polls the queue table every `poll` seconds: a short interval adds
a query (and, with SQLite, a reconnection) a hundred times a second to an idle machine, a long
one adds its half to every job's latency. Here the pusher sleeps on a local wake-up
(wakeups.py) that `enqueue` rings once the task row is committed, and `poll` is only the
fallback for tasks queued where no wake-up reaches (another machine, another OS).
"""

from django.db import transaction
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

from . import wakeups


class WakingOrmBroker(ORM):
    _listener: wakeups.Listener | None = None
    _listening = False

    def _channel(self) -> str:
        return f"queue/{self.list_key}"

    def enqueue(self, task):
        # ORM.enqueue first closes the thread's "obsolete" connections (get_connection): in the
        # web process, whose connections live for one request (CONN_MAX_AGE 0), that is the
        # request's own, reopened at once for the insert, inside the request that queues a job.
        # The request's life already closes it; a worker's queue operations still go through
        # get_connection (dequeue, delete).
        task_id = (
            OrmQ.objects.using(Conf.ORM)
            .create(key=self.list_key or Conf.CLUSTER_NAME, payload=task, lock=timezone.now())
            .pk
        )
        channel = self._channel()
        # After the commit, or the pusher could wake before it can see the row.
        transaction.on_commit(lambda: wakeups.notify(channel), using=Conf.ORM)
        return task_id

    # Whether the last look at the table left due tasks behind (it takes `bulk` at a time).
    _more = True

    def dequeue(self):
        if not self._listening:
            # Bound before the first look at the table: a task queued in between still wakes.
            self._listener = wakeups.listener_open(self._channel())
            self._listening = True
        if self._listener is None:
            return super().dequeue()  # polls, as django-q2 does
        if not self._more:
            # The last look took every due task: sleep until one is queued (a notification
            # sent since is kept by the socket, and this returns at once). Looking again right
            # away, as ORM.dequeue does, read the table while the task just taken was on its way
            # to a worker: django-q2 hands it over in a thread of this process, which waited for
            # that read's Python to let go of the GIL, delaying every job's start.
            self._listener.wait(Conf.POLL)
        tasks, self._more = self._take()
        return tasks or None

    def _take(self) -> tuple[list, bool]:
        """ORM.dequeue without its sleep: lock up to `bulk` due tasks, skipping any another
        cluster locked first; and whether more were due than that."""
        queue = self.get_connection()
        taken = []
        due = list(queue.filter(key=self.list_key, lock__lt=timezone.now())[: Conf.BULK + 1])
        for task in due[: Conf.BULK]:
            if queue.filter(id=task.id, lock=task.lock).update(lock=self.timeout(task)):
                taken.append((task.pk, task.payload))
        return taken, len(due) > Conf.BULK
