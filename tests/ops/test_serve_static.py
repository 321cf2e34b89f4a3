"""`manage.py serve` on a checkout where `collectstatic` never ran still serves CSS and JS."""

import io

from ops.management.commands.serve import static_files_ensure


def test_serve_collects_the_static_files_when_there_are_none(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    out = io.StringIO()
    static_files_ensure(out)
    assert (tmp_path / "static" / "dashboard" / "dashboard.css").is_file()
    assert "collecting them first" in out.getvalue()


def test_serve_leaves_a_collection_that_is_there(settings, tmp_path):
    root = tmp_path / "static"
    (root / "dashboard").mkdir(parents=True)
    (root / "dashboard" / "dashboard.css").write_text("/* collected earlier */")
    settings.STATIC_ROOT = root
    out = io.StringIO()
    static_files_ensure(out)
    assert (root / "dashboard" / "dashboard.css").read_text() == "/* collected earlier */"
    assert not (root / "dashboard" / "dashboard.js").exists()
    assert out.getvalue() == ""
