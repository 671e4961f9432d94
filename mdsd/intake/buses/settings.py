"""The ``[intake]`` config table: backpressure and the optional event buses.

Kept apart from the adapters so that loading a config never imports a bus client; a table
for a bus whose extra is not installed is refused at load time, naming the extra.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from serde import disabled, serde

from mdsd.base.bounds import check_minimums
from mdsd.intake.events import MAX_EVENT_BYTES, MAX_REQUEST_BYTES

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
OFFSET_RESETS = ("earliest", "latest")


def require_extra(module: str, table: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ValueError(
            f"[{table}] needs the {module} package, which is not installed: "
            f"install mds[{extra}] (pip install 'mds[{extra}]')"
        )


def raise_problems(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


@dataclass
class KafkaConnection:
    """Where a Kafka cluster is and how to log in to it: what every mds client of Kafka
    (``[intake.kafka]``, ``[replication]``) names the same way."""

    #: comma-separated host:port list, as in Kafka's own clients
    bootstrap_servers: str = "localhost:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str = ""
    #: may name an environment variable, "${KAFKA_PASSWORD}", to keep it out of the file
    sasl_password: str = ""
    #: CA bundle for SSL/SASL_SSL; empty: the system's trust store
    ssl_cafile: str = ""

    def connection_problems(self, table: str) -> list[str]:
        problems = []
        if not self.bootstrap_servers.strip():
            problems.append(f"{table}.bootstrap_servers must name at least one host:port")
        for key, value, allowed in (
            ("security_protocol", self.security_protocol, SECURITY_PROTOCOLS),
            ("sasl_mechanism", self.sasl_mechanism, SASL_MECHANISMS),
        ):
            if value not in allowed:
                problems.append(f"{table}.{key} must be one of {', '.join(allowed)}")
        return problems


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class KafkaConfig(KafkaConnection):
    """``[intake.kafka]``: a consumer group member reading thin events from topics."""

    topics: list[str] = field(default_factory=lambda: ["mds-events"])
    group_id: str = "mds"
    #: where a group without committed offsets starts; "earliest" loses nothing
    auto_offset_reset: str = "earliest"
    #: records handed to intake per durable write (and per offset commit)
    max_batch: int = 1000

    def __post_init__(self) -> None:
        require_extra("aiokafka", "intake.kafka", "kafka")
        problems = self.connection_problems("intake.kafka")
        if not self.topics or not all(t.strip() for t in self.topics):
            problems.append("intake.kafka.topics must list at least one topic name")
        if not self.group_id.strip():
            problems.append("intake.kafka.group_id must not be empty")
        if self.auto_offset_reset not in OFFSET_RESETS:
            problems.append(
                f"intake.kafka.auto_offset_reset must be one of {', '.join(OFFSET_RESETS)}"
            )
        if self.max_batch < 1:
            problems.append("intake.kafka.max_batch must be at least 1")
        raise_problems(problems)


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class SqsConfig:
    """``[intake.sqs]``: long-polls one SQS queue (raw events or SNS notifications)."""

    queue_url: str = ""
    #: empty: from the AWS chain (AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config)
    region: str = ""
    #: empty: AWS itself; set for LocalStack, moto or a VPC endpoint
    endpoint_url: str = ""
    #: long-poll wait per receive (SQS allows 0 to 20)
    wait_seconds: int = 20
    #: messages per receive (SQS allows 1 to 10)
    max_messages: int = 10
    #: seconds a received message stays hidden; extended while its batch is persisted
    visibility_timeout: int = 60
    #: keep invalid messages in the queue so its redrive policy moves them to its DLQ
    leave_invalid_to_redrive: bool = False

    def __post_init__(self) -> None:
        require_extra("aiobotocore", "intake.sqs", "sqs")
        problems = []
        if not self.queue_url.startswith(("http://", "https://")):
            problems.append(
                f"intake.sqs.queue_url must be the queue's https:// URL, got {self.queue_url!r}"
            )
        if not 0 <= self.wait_seconds <= 20:
            problems.append("intake.sqs.wait_seconds must be between 0 and 20")
        if not 1 <= self.max_messages <= 10:
            problems.append("intake.sqs.max_messages must be between 1 and 10")
        if not 1 <= self.visibility_timeout <= 43200:
            problems.append("intake.sqs.visibility_timeout must be between 1 and 43200")
        raise_problems(problems)


@serde(deny_unknown_fields=True, type_check=disabled)
@dataclass
class IntakeConfig:
    """``[intake]``: how much queued work the buses may pile up, how large an input may be,
    and which buses to read."""

    #: buses pause while more units than this wait for hydration, and resume at half
    max_pending: int = 10000
    #: a ``POST /v1/events`` body or ``.json`` inbox file larger than this is refused whole
    #: (HTTP 413; the file goes to the dead letters); ``.jsonl`` files are read line by line
    max_request_bytes: int = MAX_REQUEST_BYTES
    #: one event (a line, an array element, a message) larger than this is a dead letter
    max_event_bytes: int = MAX_EVENT_BYTES
    kafka: KafkaConfig | None = None
    sqs: SqsConfig | None = None

    def __post_init__(self) -> None:
        check_minimums(
            self,
            {"max_pending": 1, "max_request_bytes": 1, "max_event_bytes": 1},
            table="intake.",
        )
