"""The project's layout rules that no linter checks: no module over MAX_LINES lines.

A module that grows past it is split by subject (a package, or a module beside it), as the
settings, the OpenAPI description and the request serializers were.
"""

import os
from pathlib import Path

from django.conf import settings

MAX_LINES = 400
# Not project code: the virtualenv, generated migrations, the runtime folder, build output.
SKIPPED_DIRS = {".venv", ".git", "migrations", "var", "site", "node_modules", "build", "dist"}
# Modules still over the limit while their split is under way elsewhere, with the length they
# may not grow past. An entry goes once its module is within the limit (the test says so).
PENDING_SPLITS: dict[str, int] = {}


def project_modules(root: Path) -> list[Path]:
    """Every .py file under root, not descending into hidden or SKIPPED_DIRS folders."""
    modules = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [
            name for name in subfolders if name not in SKIPPED_DIRS and not name.startswith(".")
        ]
        modules.extend(Path(folder) / name for name in files if name.endswith(".py"))
    return sorted(modules)


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_over_the_line_limit():
    root = Path(settings.BASE_DIR)
    lengths = {
        path.relative_to(root).as_posix(): line_count(path) for path in project_modules(root)
    }
    too_long = [
        f"{name}: {length} lines (at most {PENDING_SPLITS.get(name, MAX_LINES)})"
        for name, length in lengths.items()
        if length > PENDING_SPLITS.get(name, MAX_LINES)
    ]
    assert not too_long, "split these modules by subject:\n" + "\n".join(too_long)


def test_pending_splits_are_still_pending():
    root = Path(settings.BASE_DIR)
    done = [
        name
        for name in PENDING_SPLITS
        if not (root / name).exists() or line_count(root / name) <= MAX_LINES
    ]
    assert not done, f"within {MAX_LINES} lines now, drop from PENDING_SPLITS: {done}"
