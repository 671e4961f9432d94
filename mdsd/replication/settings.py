"""The ``[replication]`` config table: where the primary publishes its transactions."""

from __future__ import annotations

from dataclasses import dataclass

from serde import disabled, serde

from mdsd.intake.buses.settings import KafkaConnection, raise_problems, require_extra


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class ReplicationConfig(KafkaConnection):
    """``[replication]``: publish every committed transaction to ``topic``."""

    topic: str = "mds.transactions"
    #: Kafka's idempotent producer: a retried send is written once. Off only for brokers
    #: without it (Tansu); consumers drop repeats by transaction id either way
    idempotent: bool = True
    #: transactions in flight at once (each is acknowledged before it counts as published)
    batch: int = 1000

    def __post_init__(self) -> None:
        require_extra("aiokafka", "replication", "kafka")
        problems = self.connection_problems("replication")
        if not self.topic.strip():
            problems.append("replication.topic must not be empty")
        if self.batch < 1:
            problems.append("replication.batch must be at least 1")
        raise_problems(problems)


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class ReplicaConfig(KafkaConnection):
    """``[replica]``: what ``mdsd replica`` follows, a primary's ``[replication]`` topic."""

    topic: str = "mds.transactions"
    #: where writes go instead, as users reach the primary (its URL, or its host): the
    #: replica names it when it refuses one
    primary: str = ""
    #: messages read from the topic per poll
    batch: int = 1000

    def __post_init__(self) -> None:
        require_extra("aiokafka", "replica", "kafka")
        problems = self.connection_problems("replica")
        if not self.topic.strip():
            problems.append("replica.topic must not be empty")
        if self.batch < 1:
            problems.append("replica.batch must be at least 1")
        raise_problems(problems)

    @property
    def primary_name(self) -> str:
        return self.primary or f"the mdsd publishing {self.topic!r}"
