"""The faults, and one run of each: the load is steady before, during and after the fault;
recovery is the time from the fault's end to the first request started after it that is
answered well; then the load stops, the jobs are given time to end, and the database is read
(invariants.py). `short` is the CI version (the suite's budget), the full one by hand."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .invariants import invariants_check
from .load import Load
from .table import FaultResult
from .topology import Topology

# Issue 29: the platform serves again within this long after a fault ends, by itself.
RECOVER_WITHIN = 30.0
WARM_UP = 4.0
# Load kept on after recovery, so that what the fault left behind meets new work.
AFTER = 4.0


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Topology], None]
    heal: Callable[[Topology], None]
    hold: float  # seconds between inject and heal
    # Before the platform starts, given the topology's folder: variables for its environment.
    prepare: Callable[[Path], dict[str, str]] | None = None
    cleanup: Callable[[Path], None] | None = None  # once the platform stopped
    # What this fault must leave beyond the invariants: problems in words.
    check: Callable[[Topology], list[str]] | None = None
    skipped: str = ""  # why it cannot run on this machine
    # Waits for the moment to strike (a batch chunk running), before the fault's clock starts.
    aim: Callable[[Topology], None] | None = None
    # The kinds of request whose good answer shows the platform serves again (all when empty):
    # after workers are killed, a probe's answer says nothing of them.
    serves: tuple[str, ...] = ()


def redis_stop(hold: float, *, wipe: bool = False) -> Fault:
    label = f"redis stopped {hold:.0f} s" + (", data gone" if wipe else "")
    return Fault(
        label,
        inject=lambda t: t.redis.stop(),
        heal=lambda t: t.redis.start(wipe=wipe),
        hold=hold,
    )


def postgres_restart() -> Fault:
    """A fast restart: every connection of every process is cut, then it serves again."""
    return Fault(
        "postgres restarted", inject=lambda t: t.postgres.restart(), heal=lambda t: None, hold=0
    )


def postgres_read_only(hold: float) -> Fault:
    """Every session's transactions read-only (a failover to a standby looks the same to the
    platform): writes refused with SQLSTATE 25006 until it ends."""

    def read_only(topology: Topology, on: bool) -> None:
        topology.postgres.sql(
            f"ALTER SYSTEM SET default_transaction_read_only = {'on' if on else 'off'}"
        )
        topology.postgres.sql("SELECT pg_reload_conf()")

    return Fault(
        f"postgres read-only {hold:.0f} s",
        inject=lambda t: read_only(t, True),
        heal=lambda t: read_only(t, False),
        hold=hold,
    )


def faults(*, short: bool) -> list[Fault]:
    from .environment import environment_faults  # it builds on Fault
    from .process_kills import process_kills  # builds on Fault, defined here

    if short:
        return [redis_stop(10), postgres_restart()]
    return [
        redis_stop(30),
        redis_stop(30, wipe=True),
        postgres_restart(),
        postgres_read_only(20),
        *environment_faults(),
        *process_kills(),
    ]


def fault_run(topology: Topology, fault: Fault, *, job_timeout: float) -> FaultResult:
    platform = topology.platform
    load = Load(api_base=platform.api_base, keys=topology.keys, timeout=job_timeout + 30)
    load.start()
    try:
        time.sleep(WARM_UP)
        if fault.aim is not None:
            fault.aim(topology)
        injected = time.monotonic()
        fault.inject(topology)
        time.sleep(fault.hold)
        fault.heal(topology)
        healed = time.monotonic()
        recovered = None
        while time.monotonic() - healed < RECOVER_WITHIN + job_timeout:
            good = [
                a
                for a in load.snapshot()
                if a.started >= healed
                and a.outcome == "ok"
                and (not fault.serves or a.kind in fault.serves)
            ]
            if good:
                recovered = min(a.ended for a in good) - healed
                break
            time.sleep(0.2)
        time.sleep(AFTER)
    finally:
        load.stop()
    answers = load.snapshot()
    # The fault's own check first: it may wait for what the fault left (the callbacks), and
    # the invariants are read once that has settled too.
    found = fault.check(topology) if fault.check else []
    invariants = invariants_check(
        platform, accepted=[a.job_id for a in answers], settle=job_timeout + 60
    )
    return FaultResult(
        fault=fault.name,
        answers=answers,
        invariants=invariants,
        recovered_after=recovered,
        injected=injected,
        healed=healed,
        longest_answer=max((a.ended - a.started for a in answers), default=0.0),
        found=found,
    )
