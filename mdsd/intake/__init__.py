"""Intake: every door (socket, CLI, inbox files, buses) -> validated events in the durable
journal. Work is handed on through a callback, never by holding the next stage."""
