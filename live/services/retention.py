"""Purging the rows live sessions left behind. Run by transcriptions' hourly purge
(transcriptions.services.retention), which this app registers it with (apps.py)."""

from datetime import datetime, timedelta

from ..models import LivePreview, LiveSession
from .session_slots import live_sessions_reap

PREVIEW_RETENTION = timedelta(minutes=10)
# A live session's row outlives its session only when its web process died: it stopped
# counting a minute after (session_slots); gone after this.
LIVE_SESSION_RETENTION = timedelta(minutes=10)


def live_rows_purge(*, now: datetime) -> dict[str, int]:
    # A live session that ended abruptly can leave its last preview behind (it deletes each
    # one it reads): a preview is of use for seconds.
    previews, _ = LivePreview.objects.filter(created_at__lt=now - PREVIEW_RETENTION).delete()
    # Their previews' holds given back first (rows of earlier versions have no process).
    sessions = live_sessions_reap(stale_before=now - LIVE_SESSION_RETENTION)
    gone, _ = LiveSession.objects.filter(seen_at__lt=now - LIVE_SESSION_RETENTION).delete()
    sessions += gone
    return {"live_previews": previews, "live_sessions": sessions}
