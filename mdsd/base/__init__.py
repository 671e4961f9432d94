"""Plumbing every stage may use and none owns: config bounds, logging, the data-dir lock,
socket listeners and pacing of long loops on the event loop."""
