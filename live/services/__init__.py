"""Live transcription's writes, by sub-domain: turn_jobs (each committed turn a job, its usage
row), audio_buffer (a session's input buffer and its turns), preview_decoding (interim text:
a turn's audio so far decoded once), preview_billing (what interim text costs), session_slots
(the per-tenant cap on open sessions), retention (rows sessions left behind). Imported from
their modules: the session (live/session.py) uses each under its own name."""
