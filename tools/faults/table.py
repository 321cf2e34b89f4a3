"""The table printed per fault (issue 29): requests sent, answered, errors by kind, jobs lost,
seconds billed wrongly, time to recover."""

from collections import Counter
from dataclasses import dataclass, field

from .invariants import Invariants
from .load import Answer


@dataclass
class FaultResult:
    fault: str
    answers: list[Answer]
    invariants: Invariants
    recovered_after: float | None  # seconds from the fault's end to the first good answer
    longest_answer: float
    injected: float = 0.0  # time.monotonic() of the fault's start
    healed: float = 0.0  # and of its end
    found: list[str] = field(default_factory=list)  # the fault's own check (Fault.check)

    def timeline(self) -> str:
        """Every answer: when it started and ended, from the fault's start, and what it was."""
        return "\n".join(
            f"  {a.started - self.injected:+7.1f} s {a.ended - a.started:6.1f} s"
            f"  {a.tenant:6} {a.kind:6} {a.outcome}"
            for a in sorted(self.answers, key=lambda a: a.started)
        )

    @property
    def errors(self) -> Counter:
        return Counter(a.outcome for a in self.answers if a.outcome != "ok")

    @property
    def not_retryable(self) -> int:
        return sum(1 for a in self.answers if a.outcome != "ok" and not a.retryable)

    def problems(self, *, recover_within: float, longest: float) -> list[str]:
        """Everything issue 29 says must not happen, in words; empty when the fault passed."""
        found = [f"{n} answers a client would not retry" for n in [self.not_retryable] if n]
        if self.recovered_after is None or self.recovered_after > recover_within:
            found.append(f"not serving again within {recover_within:.0f} s")
        if self.longest_answer > longest:
            found.append(f"an answer took {self.longest_answer:.0f} s")
        return found + self.invariants.broken() + self.found


def table(results: list[FaultResult]) -> str:
    head = (
        "fault",
        "sent",
        "answered",
        "ok",
        "errors by kind",
        "not retryable",
        "jobs lost/open",
        "unsettled/reserved s/slots",
        "no usage row",
        "billed wrongly s",
        "recovered in s",
        "slowest answer s",
    )
    rows = [head]
    for r in results:
        inv = r.invariants
        answered = sum(1 for a in r.answers if a.outcome not in ("hang", "refused"))
        errors = ", ".join(f"{kind} x{n}" for kind, n in sorted(r.errors.items())) or "-"
        recovered = "never" if r.recovered_after is None else f"{r.recovered_after:.1f}"
        rows.append(
            (
                r.fault,
                str(len(r.answers)),
                str(answered),
                str(sum(1 for a in r.answers if a.outcome == "ok")),
                errors,
                str(r.not_retryable),
                f"{inv.lost}/{inv.open_jobs}",
                f"{inv.unsettled}/{inv.reserved_left}/{inv.slots_left}",
                str(inv.jobs_without_usage + inv.pending_rows),
                str(inv.billed_wrongly),
                recovered,
                f"{r.longest_answer:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
