"""`python -m tools.faults [--short]`: start the topology, run every fault, print the table.
Exits 1 when a fault broke what issue 29 asks (the problems are printed under the table)."""

import argparse
import sys

from .invariants import leftovers
from .scenarios import RECOVER_WITHIN, fault_run, faults
from .table import table
from .topology import topology_start


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.faults")
    parser.add_argument("--short", action="store_true", help="the CI version (about 2 minutes)")
    parser.add_argument("--job-timeout", type=int, default=60)
    parser.add_argument("--keep-log", type=int, default=0, help="print this much of serve.log")
    parser.add_argument("--timeline", action="store_true", help="print every answer")
    parser.add_argument(
        "--only",
        help="run only the faults whose name contains this (or one of these, comma-separated)",
    )
    args = parser.parse_args()
    only = args.only.split(",") if args.only else [""]
    chosen = [f for f in faults(short=args.short) if any(part in f.name for part in only)]
    for fault in [f for f in chosen if f.skipped]:
        print(f"-- {fault.name}: skipped, {fault.skipped}", flush=True)
    chosen = [f for f in chosen if not f.skipped]
    topology = topology_start(job_timeout=args.job_timeout, faults=chosen)
    results = []
    try:
        for fault in chosen:
            print(f"-- {fault.name}", flush=True)
            results.append(fault_run(topology, fault, job_timeout=args.job_timeout))
            print(table(results[-1:]), flush=True)
            if args.timeline:
                healed = results[-1].healed - results[-1].injected
                print(f"  (fault from +0.0 s to +{healed:.1f} s)\n{results[-1].timeline()}")
            if results[-1].invariants.broken():
                for row in leftovers(topology.platform):
                    print("   left:", *row, flush=True)
    finally:
        if args.keep_log:
            print(topology.platform.log_path.read_text()[-args.keep_log :])
        topology.stop()
    print(table(results))
    failed = False
    for result in results:
        for problem in result.problems(recover_within=RECOVER_WITHIN, longest=args.job_timeout):
            print(f"{result.fault}: {problem}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
