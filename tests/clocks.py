"""A clock for ops.outages (`monkeypatch.setattr(outages, "time", OutageClock())`) on which a
wait passes at once: an outage of minutes, and the patience of what waits it out, in no time."""


class OutageClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
