"""The sprint engine: waves, sessions, verification, retries, gates, landing, resume."""
