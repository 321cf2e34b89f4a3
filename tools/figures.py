"""What the benchmark's measuring phases collect (tools/benchmark.py) and its report reads
(tools/report.py): its own module, so that neither of those imports the other."""

from dataclasses import dataclass, field


@dataclass
class Figures:
    """What the measuring phases collect."""

    bare_times: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)
    api_times: list[float] = field(default_factory=list)
    platform_cpu: float | None = None  # CPU seconds of the whole platform per sync request
    concurrent_rates: list[float] = field(default_factory=list)
    sequential_rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    first_request: float | None = None
    workers: dict[int, dict[str, float]] = field(default_factory=dict)
    texts: set[str] = field(default_factory=set)
    api_texts: set[str] = field(default_factory=set)  # the platform's answers only
