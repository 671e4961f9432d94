"""mds, the client side: what ``mds`` and ``mds-tui`` share, and never the daemon or the store.

``mds.wire`` is what both ends of the wire agree on (ids and kinds, the answers' shapes, the
as-of grammar, where the socket is); ``mds.client`` talks to a daemon; ``mds.cli`` is ``mds``.
"""
