"""mdsd: the daemon that keeps the ML lifecycle graph."""

from mds.wire import __version__

__all__ = ["__version__"]
