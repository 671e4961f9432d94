"""The ``[replication]`` and ``[replica]`` config tables: where a primary publishes its
transactions, and where a replica reads them."""

from __future__ import annotations

from dataclasses import dataclass

from serde import disabled, serde

from mdsd.intake.buses.settings import KafkaConnection, raise_problems, require_extra


@dataclass
class TransactionTopic(KafkaConnection):
    """What both ends of replication name: the cluster, and the topic of transactions."""

    topic: str = "mds.transactions"

    def check(self, table: str, batch: int) -> None:
        """The table's problems, all at once (its ``batch`` means something else at each end)."""
        require_extra("aiokafka", table, "kafka")
        problems = self.connection_problems(table)
        if not self.topic.strip():
            problems.append(f"{table}.topic must not be empty")
        if batch < 1:
            problems.append(f"{table}.batch must be at least 1")
        raise_problems(problems)


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class ReplicationConfig(TransactionTopic):
    """``[replication]``: publish every committed transaction to ``topic``."""

    #: Kafka's idempotent producer: a retried send is written once. Off only for brokers
    #: without it (Tansu); consumers drop repeats by transaction id either way
    idempotent: bool = True
    #: transactions in flight at once (each is acknowledged before it counts as published)
    batch: int = 1000

    def __post_init__(self) -> None:
        self.check("replication", self.batch)


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class ReplicaConfig(TransactionTopic):
    """``[replica]``: what ``mdsd replica`` follows, a primary's ``[replication]`` topic."""

    #: where writes go instead, as users reach the primary (its URL, or its host): the
    #: replica names it when it refuses one
    primary: str = ""
    #: messages read from the topic per poll
    batch: int = 1000

    def __post_init__(self) -> None:
        self.check("replica", self.batch)

    @property
    def primary_name(self) -> str:
        return self.primary or f"the mdsd publishing {self.topic!r}"
