"""Faults of the machine around the platform (issue 29's faults 5 to 7): the audio disk full,
callback receivers that accept and never answer, the clock an hour ahead.

Each needs something in place before the platform starts (`Fault.prepare`: a tmpfs under
MEDIA_ROOT, private callback addresses allowed, a wall-clock shim preloaded) and checks what the
common invariants do not see (`Fault.check`: files left on the disk, callbacks held up or never
sent, chunks decoded twice). A fault whose tool is missing here is skipped, with the reason."""

import os
import shutil
import subprocess
import time
from pathlib import Path

from .callbacks import CallbackLoad
from .invariants import jobs_settle
from .scenarios import Fault
from .topology import Topology

# --- 5. The audio disk full ------------------------------------------------------------------

MEDIA_SIZE = "16m"  # room for the load's uploads in flight (128 KB each)


def _media(root: Path) -> Path:
    return root / "media"


def _mount_media(root: Path) -> dict[str, str]:
    media = _media(root)
    media.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={MEDIA_SIZE}", "tmpfs", str(media)], check=True
    )
    return {"MEDIA_ROOT": str(media)}


def _unmount_media(root: Path) -> None:
    subprocess.run(["umount", "-l", str(_media(root))], check=False, capture_output=True)


def _fill(root: Path) -> None:
    """Another writer takes every free byte of the disk (a log, a stuck upload): allocated in
    halving pieces (tmpfs allocates at once, where writing would take seconds)."""
    piece, started = 1 << 30, time.monotonic()
    with (_media(root) / "filler").open("wb") as filler:
        size = 0
        while piece >= 4096:
            try:
                os.posix_fallocate(filler.fileno(), size, piece)
                size += piece
            except OSError:
                piece //= 2
    # Slow when the machine is short of memory (tmpfs pages): the fault starts only then.
    print(f"   the audio disk full {time.monotonic() - started:.1f} s after the fault began")


def _files_left(topology: Topology) -> list[str]:
    """Every file under MEDIA_ROOT but the filler once the jobs ended: a job's audio and chunk
    samples go when it ends, so anything left is half-written or orphaned."""
    jobs_settle(topology.platform, timeout=120)
    media = _media(topology.root)
    left = [
        str(path.relative_to(media))
        for path in media.rglob("*")
        if path.is_file() and path.name != "filler"
    ]
    return [f"{len(left)} files left on the audio disk: {', '.join(left[:5])}"] if left else []


def disk_full(hold: float) -> Fault:
    skipped = ""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        skipped = "mounting a tmpfs needs root and mount(8)"
    return Fault(
        f"audio disk full {hold:.0f} s",
        inject=lambda t: _fill(t.root),
        heal=lambda t: (_media(t.root) / "filler").unlink(missing_ok=True),
        hold=hold,
        prepare=_mount_media,
        cleanup=_unmount_media,
        check=_files_left,
        skipped=skipped,
    )


# --- 6. Callback receivers that never answer -------------------------------------------------

_callbacks: dict[int, CallbackLoad] = {}


def callbacks_hanging(count: int) -> Fault:
    """`count` async jobs of one tenant whose callback_url accepts and never answers, while the
    other tenants' jobs call back a receiver that answers at once (callbacks.py)."""

    def inject(topology: Topology) -> None:
        load = CallbackLoad(topology)
        _callbacks[id(topology)] = load
        load.start(hanging=count)

    def heal(topology: Topology) -> None:
        _callbacks[id(topology)].hole.answer()

    def check(topology: Topology) -> list[str]:
        return _callbacks.pop(id(topology)).finish()

    return Fault(
        f"{count} callback receivers never answer",
        inject=inject,
        heal=heal,
        hold=60,
        # A minute an attempt (10 s by default): this machine ends jobs slower than the
        # callback workers would drain ten-second attempts, so the receivers' hold on the
        # workers is lengthened to show what a faster machine's burst of callbacks does.
        prepare=lambda root: {"CALLBACK_ALLOW_PRIVATE": "1", "CALLBACK_TIMEOUT": "60"},
        check=check,
    )


# --- 7. The clock an hour ahead --------------------------------------------------------------

# Our own shim (its source says why not libfaketime), built for each run by the C compiler.
WALLCLOCK_SOURCE = Path(__file__).with_name("wallclock.c")


def clock_offset_file(root: Path) -> Path:
    return root / "wallclock.offset"


def clock_shim_prepare(root: Path, compiler: str) -> dict[str, str]:
    """Build the shim into the run's folder; every platform process preloads it (children
    included: they inherit the environment). Only the wall clock steps, as a stepped system
    clock does: CLOCK_MONOTONIC goes on, and the offset file is re-read every second."""
    lib = root / "wallclock.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(lib), str(WALLCLOCK_SOURCE), "-ldl"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    clock_offset_file(root).write_text("0\n")
    return {"LD_PRELOAD": str(lib), "WALLCLOCK_OFFSET_FILE": str(clock_offset_file(root))}


# The chunks and jobs handed out more than once before the step (an earlier fault of the same
# run puts some back), by topology: the step's own are those above these.
_handed_out_before: dict[int, tuple[int, int]] = {}


def _handed_out_again(topology: Topology) -> tuple[int, int]:
    q = topology.platform.query
    chunks = q("SELECT count(*) FROM transcriptions_chunk WHERE attempts > 1")[0][0]
    jobs = q("SELECT count(*) FROM transcriptions_job WHERE attempts > 1")[0][0]
    return chunks, jobs


def _clock_step(topology: Topology) -> None:
    _handed_out_before[id(topology)] = _handed_out_again(topology)
    clock_offset_file(topology.root).write_text("3600\n")


def _clock_check(topology: Topology) -> list[str]:
    """No work handed out twice because a lease or heartbeat looked old (every worker lived:
    a chunk or job handed out again since the step was), and no tenant's usage split over a
    new quota period (an hour ahead stays in the month, unless run at its very end)."""
    q = topology.platform.query
    # The jobs' times are the platform's clock, the database's now() is not (its server is
    # not preloaded): an hour apart, or the shim was not in effect and nothing was shown.
    ahead = q("SELECT extract(epoch FROM max(created_at) - now()) FROM transcriptions_job")[0][0]
    if ahead is None or float(ahead) < 1800:
        return [f"the platform's clock did not move (newest job {ahead} s from now)"]
    chunks_before, jobs_before = _handed_out_before.pop(id(topology), (0, 0))
    chunks, jobs = _handed_out_again(topology)
    chunks, jobs = chunks - chunks_before, jobs - jobs_before
    periods = q(
        "SELECT count(*) FROM (SELECT tenant_id FROM accounts_quotaperiod"
        " GROUP BY tenant_id HAVING count(*) > 1) split"
    )[0][0]
    found = [f"{chunks} chunks handed out more than once"] if chunks else []
    found += [f"{jobs} jobs run more than once"] if jobs else []
    return found + ([f"{periods} tenants with a second quota period"] if periods else [])


def clock_jump(hold: float) -> Fault:
    compiler = shutil.which("cc") or shutil.which("gcc") or ""
    return Fault(
        "clock an hour ahead",
        inject=_clock_step,
        heal=lambda t: None,  # a stepped clock stays stepped: the platform must live with it
        hold=hold,
        prepare=(lambda root: clock_shim_prepare(root, compiler)) if compiler else None,
        check=_clock_check,
        skipped="" if compiler else "no C compiler (cc) to build tools/faults/wallclock.c",
    )


def environment_faults() -> list[Fault]:
    # The clock last: it stays an hour ahead for whatever runs after it.
    return [disk_full(20), callbacks_hanging(50), clock_jump(30)]
