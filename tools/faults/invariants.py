"""What the database must say once a fault is over (issue 29), read straight from it:

open jobs        none queued or running once the platform had time to finish them
unsettled        no finished job whose quota was never settled (its reservation held)
reserved         no quota left reserved with no job in flight
no usage row     every job has its request's usage row
pending rows     no usage row of a finished job still waiting for its cost
billed wrongly   per tenant, the seconds of the usage rows and the quota's used seconds
                 agree to the second
lost             every job a client was told was accepted (an async 202) exists
"""

import time
from dataclasses import dataclass

from tools.live_platform import LivePlatform

OPEN = ("queued", "running")


@dataclass
class Invariants:
    open_jobs: int
    unsettled: int
    reserved_left: int
    slots_left: int  # concurrency slots held (accounts_activejobs) beyond the open jobs
    jobs_without_usage: int
    pending_rows: int
    billed_wrongly: int  # seconds, summed over tenants
    lost: int
    settle_seconds: float

    def broken(self) -> list[str]:
        return [
            f"{name}={value}"
            for name, value in vars(self).items()
            if name != "settle_seconds" and value
        ]


def _one(platform: LivePlatform, sql: str, params: tuple = ()) -> int:
    return int(platform.query(sql, params)[0][0] or 0)


def open_jobs(platform: LivePlatform) -> int:
    return _one(
        platform, "SELECT count(*) FROM transcriptions_job WHERE status = ANY(%s)", (list(OPEN),)
    )


def jobs_settle(platform: LivePlatform, *, timeout: float) -> float:
    """Wait for every job to end (or `timeout`); the seconds it took. A query that fails (the
    database still coming back) is a job not yet seen ended."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if open_jobs(platform) == 0:
                break
        except Exception:
            pass
        time.sleep(0.5)
    return time.monotonic() - started


def invariants_check(platform: LivePlatform, *, accepted: list[str], settle: float) -> Invariants:
    taken = jobs_settle(platform, timeout=settle)
    # The usage row of a request is written as its answer ends: a moment for the last ones.
    time.sleep(1.0)
    q = platform.query
    billed = q(
        "SELECT t.id, coalesce((SELECT sum(used_seconds) FROM accounts_quotaperiod p"
        "  WHERE p.tenant_id = t.id), 0),"
        " coalesce((SELECT sum(billed_seconds) FROM accounts_usagerecord u"
        "  WHERE u.tenant_id = t.id), 0) FROM accounts_tenant t"
    )
    found = {row[0] for row in q("SELECT public_id FROM transcriptions_job")}
    return Invariants(
        open_jobs=open_jobs(platform),
        unsettled=_one(
            platform,
            "SELECT count(*) FROM transcriptions_job WHERE status <> ALL(%s)"
            " AND quota_settled_at IS NULL AND reserved_seconds > 0",
            (list(OPEN),),
        ),
        reserved_left=_one(platform, "SELECT sum(reserved_seconds) FROM accounts_quotaperiod"),
        slots_left=_one(platform, "SELECT sum(count) FROM accounts_activejobs")
        - open_jobs(platform),
        jobs_without_usage=_one(
            platform,
            "SELECT count(*) FROM transcriptions_job j WHERE NOT EXISTS"
            " (SELECT 1 FROM accounts_usagerecord u WHERE u.job_id = j.public_id)",
        ),
        pending_rows=_one(
            platform,
            "SELECT count(*) FROM accounts_usagerecord u JOIN transcriptions_job j"
            " ON j.public_id = u.job_id WHERE u.billed_seconds IS NULL AND j.status <> ALL(%s)",
            (list(OPEN),),
        ),
        billed_wrongly=sum(abs(int(used) - int(rows)) for _, used, rows in billed),
        lost=sum(1 for job_id in accepted if job_id and job_id not in found),
        settle_seconds=round(taken, 1),
    )


def leftovers(platform: LivePlatform) -> list[tuple]:
    """The rows behind a broken invariant, for the report: open or unsettled jobs and usage
    rows still waiting for their cost."""
    jobs = platform.query(
        "SELECT 'job', public_id, status, error_code, reserved_seconds, quota_settled_at IS NULL,"
        " worker, attempts FROM transcriptions_job WHERE status = ANY(%s)"
        " OR (quota_settled_at IS NULL AND reserved_seconds > 0)",
        (list(OPEN),),
    )
    rows = platform.query(
        "SELECT 'usage', u.request_id, u.endpoint, u.status_code, u.error_code, u.job_id,"
        " j.status FROM accounts_usagerecord u LEFT JOIN transcriptions_job j"
        " ON j.public_id = u.job_id WHERE u.billed_seconds IS NULL"
    )
    return jobs + rows
