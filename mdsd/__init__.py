"""mdsd: the daemon that keeps the ML lifecycle graph."""

__version__ = "0.1.0"
