"""``mds-tui``: the keyboard-driven terminal explorer of the ML lifecycle graph.

It talks to ``mdsd`` only through :mod:`mds.client`; nothing here may import ``store``.
"""
