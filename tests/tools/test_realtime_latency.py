"""The realtime scenario's count of turns whose deltas add up to their transcript."""

from tools.realtime_client import Run
from tools.realtime_latency import COMPLETED, DELTA, joined_turns


def test_a_turn_joins_when_its_deltas_concatenate_to_its_transcript():
    def delta(item: str, text: str) -> tuple[float, dict]:
        return (0.0, {"type": DELTA, "item_id": item, "delta": text})

    def completed(item: str, text: str) -> tuple[float, dict]:
        return (0.0, {"type": COMPLETED, "item_id": item, "transcript": text})

    run = Run(
        events=[
            delta("a", "And so"),
            delta("b", "Like your"),
            delta("a", " my fellow Americans."),
            completed("a", "And so my fellow Americans."),
            completed("b", "What your country can do for you!"),  # corrected: no join
            completed("c", ""),  # no speech, no delta: joins
        ]
    )
    assert joined_turns(run) == (2, 3)
