"""Fair turns: which queued chunk a worker that just freed takes next.

The platform's own policy, kept apart from the queue that carries it. django-q2 moves tasks
first in, first out, which is the unfairness this module exists to undo: one tenant's batch of
long files would hold every worker while another tenant's short request waits behind it. So a
task on the queue names no chunk; it is a turn (services.chunks), and the worker that runs it
asks this policy which chunk that turn goes to:

1. the tenant with the least work running now (chunks being decoded, on any worker of any
   machine), so a tenant with nothing running goes first, whatever others have queued;
2. between tenants with as much running, the one whose oldest waiting chunk arrived first;
3. within the tenant, chunks with a client waiting (synchronous and streaming requests) before
   async jobs, then by arrival, then the job's own order.

The choice reads two small aggregates and one indexed row; the claim that follows is a
conditional UPDATE, so two workers choosing at once never take the same chunk (the loser chooses
again, and sees the winner's claim counted).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

# Rule 3, as an ORM ordering of one tenant's queued chunks.
TENANT_CHUNK_ORDER = ("-interactive", "arrived_at", "job_id", "index")


@dataclass(frozen=True)
class Waiting:
    """A tenant with queued chunks, and when its oldest one arrived."""

    tenant_id: int
    oldest_arrival: datetime


def next_tenant(waiting: Iterable[Waiting], running: Mapping[int, int]) -> int | None:
    """Rules 1 and 2: the tenant whose chunk runs next, or None when nothing waits."""
    best = min(
        waiting,
        key=lambda w: (running.get(w.tenant_id, 0), w.oldest_arrival, w.tenant_id),
        default=None,
    )
    return best.tenant_id if best is not None else None
