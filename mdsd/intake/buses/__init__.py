"""Event buses: Kafka and SQS (with SNS fan-out) as doors into the durable intake.

Each bus is an optional extra (``mds[kafka]``, ``mds[sqs]``) configured by its
``[intake.*]`` table. Adapters only speak their broker; ``pump.Bus`` runs them all the
same way: persist through ``Intake.submit``, then acknowledge, pausing while hydration is
behind. Broker clients are imported only when their table is configured.
"""

from __future__ import annotations

from collections.abc import Callable

from mdsd.intake.buses.backpressure import Backpressure
from mdsd.intake.buses.pump import Adapter, Bus, Submitter
from mdsd.intake.buses.settings import IntakeConfig

__all__ = ["Bus", "build_buses"]


def build_buses(config: IntakeConfig, intake: Submitter, depth: Callable[[], int]) -> list[Bus]:
    """One ``Bus`` per configured table; ``depth`` is the intake queue's depth, in units."""
    adapters: list[Adapter] = []
    if config.kafka is not None:
        from mdsd.intake.buses.kafka import KafkaAdapter

        adapters.append(KafkaAdapter(config.kafka))
    if config.sqs is not None:
        from mdsd.intake.buses.sqs import SqsAdapter

        adapters.append(SqsAdapter(config.sqs))
    return [Bus(adapter, intake, Backpressure(depth, config.max_pending)) for adapter in adapters]
