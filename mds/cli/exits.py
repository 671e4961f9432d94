"""The exit statuses of ``mds``, one meaning each, so a script can tell them apart."""

from __future__ import annotations

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
#: kept apart from 1 so that `mds show ID || create ID` never
#: mistakes a stopped daemon for a missing entity
EXIT_UNAVAILABLE = 3
#: a remote daemon refused the token (401), its scope (403) or, for a while, this address
EXIT_DENIED = 4
#: `mds ingest`: the daemon refused some events (they wait in the dead letters)
EXIT_REJECTED = 5
#: `mds wait --idle` ran out of time, as timeout(1) reports it
EXIT_TIMEOUT = 124

EXIT_STATUS_HELP = """\
exit status:
  0    success
  1    the thing asked for does not exist (as of --as-of / --known-at)
  2    bad usage: unknown command or option, malformed argument, an unusable target or
       token file, query rejected (HTTP 400), or a GraphQL error other than an unknown id
  3    mdsd is not reachable (not started, refused, TLS verification failed) or failed
       (HTTP 5xx)
  4    a remote mdsd refused the token (401), its scope (403), or this address after too
       many failed attempts (429)
  5    `mds ingest FILE`: some events were refused (kept in the dead letters); --allow-rejects
       exits 0 instead
  124  `mds wait --idle` timed out (as timeout(1) does)"""
