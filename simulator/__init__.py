"""A simulator of the reference ML platform (contract section 1), for demos and tests.

It generates a realistic organisation (``World``), serves the six source systems' HTTP APIs
over it (``create_app``), keeps changing it, and emits the thin events those changes imply
into a daemon (``Emitter`` with a socket, inbox or callback sink), misbehaving on request
(``Chaos``). ``run_simulator`` and ``SimulatorThread`` run all of it in-process;
``python -m simulator`` runs it standalone. The daemon never imports this package except
for ``mdsd demo`` and tests.
"""

from simulator.chaos import Chaos
from simulator.emitter import CallbackSink, Emitter, InboxSink, Sink, SocketSink
from simulator.records import COLLECTIONS, SOURCE_COLLECTIONS, Event
from simulator.runner import Simulator, SimulatorThread, run_simulator
from simulator.server import create_app
from simulator.world import World

__all__ = [
    "COLLECTIONS",
    "SOURCE_COLLECTIONS",
    "CallbackSink",
    "Chaos",
    "Emitter",
    "Event",
    "InboxSink",
    "Simulator",
    "SimulatorThread",
    "Sink",
    "SocketSink",
    "World",
    "create_app",
    "run_simulator",
]
