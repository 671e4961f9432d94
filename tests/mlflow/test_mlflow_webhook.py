"""The MLflow webhook receiver: signatures (good, forged, stale), mapping, durability."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from mdsd.config import ConfigError, parse_config
from mdsd.connectors.mlflow.webhook import PATH, Refused, WebhookReceiver, thin_event, verify
from mdsd.intake.doors import IntakeResult
from mdsd.intake.events import Accepted, parse_events

SECRET = "s3cret"
NOW = 1_800_000_000.0


def mlflow_signature(secret: str, delivery_id: str, timestamp: str, payload: str) -> str:
    """MLflow 3.17's ``_generate_hmac_signature``, restated independently."""
    content = f"{delivery_id}.{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def delivery(
    entity: str = "model_version",
    action: str = "created",
    *,
    secret: str = SECRET,
    at: float = NOW,
    delivery_id: str = "d-1",
    **data: Any,
) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as MLflow sends them."""
    payload = json.dumps(
        {
            "entity": entity,
            "action": action,
            "timestamp": "2027-01-15T08:00:00.123456+00:00",
            "data": data or {"name": "iris", "version": "3", "run_id": None},
        }
    )
    timestamp = str(int(at))
    headers = {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery_id,
        "X-MLflow-Timestamp": timestamp,
        "X-MLflow-Signature": mlflow_signature(secret, delivery_id, timestamp, payload),
    }
    return headers, payload.encode()


def check(headers: dict[str, str], body: bytes) -> str:
    return verify(headers, body, SECRET, now=NOW, max_age=300)


def test_a_genuine_delivery_verifies() -> None:
    assert check(*delivery()) == "d-1"


def test_a_rotated_secret_still_verifies_with_one_matching_signature() -> None:
    headers, body = delivery()
    headers["X-MLflow-Signature"] = "v1,bm9wZQ== " + headers["X-MLflow-Signature"]
    assert check(headers, body) == "d-1"


@pytest.mark.parametrize(
    ("tamper", "status", "counter"),
    [
        (lambda h, b: (h, b.replace(b"iris", b"evil")), 401, "bad_signature"),
        (lambda h, b: delivery(secret="guessed"), 401, "bad_signature"),
        (lambda h, b: ({**h, "X-MLflow-Delivery-Id": "d-2"}, b), 401, "bad_signature"),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != "X-MLflow-Signature"}, b),
            401,
            "unsigned",
        ),
        (lambda h, b: delivery(at=NOW - 301), 400, "stale"),
        (lambda h, b: delivery(at=NOW + 301), 400, "stale"),
        (lambda h, b: ({**h, "X-MLflow-Timestamp": "soon"}, b), 400, "malformed"),
    ],
)
def test_forged_unsigned_and_stale_deliveries_are_refused(
    tamper: Any, status: int, counter: str
) -> None:
    headers, body = tamper(*delivery())
    with pytest.raises(Refused) as refused:
        check(headers, body)
    assert (refused.value.status, refused.value.counter) == (status, counter)


@pytest.mark.parametrize(
    ("entity", "action", "data", "expected"),
    [
        ("registered_model", "created", {"name": "iris", "tags": {}}, {"name": "iris"}),
        ("model_version", "created", {"name": "iris", "version": "3"}, {"version": "3"}),
        ("model_version_tag", "set", {"name": "iris", "version": 3, "key": "k"}, {"version": "3"}),
        (
            "model_version_alias",
            "created",
            {"name": "iris", "alias": "a", "version": "2"},
            {"version": "2"},
        ),
        ("model_version_alias", "deleted", {"name": "iris", "alias": "a"}, {"name": "iris"}),
    ],
)
def test_deliveries_become_valid_thin_events(
    entity: str, action: str, data: dict[str, Any], expected: dict[str, str]
) -> None:
    event = thin_event({"entity": entity, "action": action, "data": data}, "d-9")
    assert event is not None
    assert expected.items() <= event.items()
    assert event["event_id"] == "mlflow:d-9"
    wanted = "mlflow_model_version_changed" if "version" in expected else "mlflow_model_changed"
    assert event["event_type"] == wanted
    (parsed,) = parse_events(json.dumps(event).encode(), "webhook")
    assert isinstance(parsed, Accepted) and parsed.target == "aip://model/mlflow/iris"


def test_prompts_are_ignored_and_nameless_deliveries_malformed() -> None:
    assert thin_event({"entity": "prompt", "action": "created", "data": {"name": "p"}}, "d") is None
    with pytest.raises(Refused, match=r"data\.name"):
        thin_event({"entity": "model_version", "action": "created", "data": {}}, "d")


class Intake:
    """Records what the receiver submits; can be made to fail."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.fail = False

    async def submit(self, raw: bytes, origin: str) -> IntakeResult:
        if self.fail:
            raise OSError("disk full")
        self.submitted.append({"origin": origin, **json.loads(raw)})
        return IntakeResult(accepted=1)


@pytest.fixture
def intake() -> Intake:
    return Intake()


@pytest.fixture
def receiver(intake: Intake) -> WebhookReceiver:
    return WebhookReceiver(SECRET, 300, intake.submit, clock=lambda: NOW)


async def post(receiver: WebhookReceiver, headers: dict[str, str], body: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mds") as client:
        return await client.post(PATH, content=body, headers=headers)


async def test_receiver_submits_genuine_deliveries_once(
    receiver: WebhookReceiver, intake: Intake
) -> None:
    response = await post(receiver, *delivery())
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert intake.submitted == [
        {
            "origin": "mlflow-webhook",
            "event_type": "mlflow_model_version_changed",
            "name": "iris",
            "version": "3",
            "event_id": "mlflow:d-1",
            "emitted_at": "2027-01-15T08:00:00.123456+00:00",
        }
    ]
    again = await post(receiver, *delivery())  # MLflow retrying after a lost answer
    assert (again.status_code, again.json()) == (200, {"duplicate": True})
    assert len(intake.submitted) == 1
    assert receiver.stats()["accepted"] == 1 and receiver.stats()["duplicates"] == 1


async def test_receiver_refuses_forgeries_and_counts_them(
    receiver: WebhookReceiver, intake: Intake
) -> None:
    forged = await post(receiver, *delivery(secret="guessed", name="evil", version="1"))
    stale = await post(receiver, *delivery(at=NOW - 3600))
    assert (forged.status_code, stale.status_code) == (401, 400)
    assert intake.submitted == []
    stats = receiver.stats()
    assert (stats["bad_signature"], stats["stale"], stats["accepted"]) == (1, 1, 0)
    assert str(stats["last_refusal"]).startswith("stale")


async def test_receiver_answers_500_when_intake_fails_so_mlflow_retries(
    receiver: WebhookReceiver, intake: Intake
) -> None:
    intake.fail = True
    assert (await post(receiver, *delivery())).status_code == 500
    intake.fail = False
    assert (await post(receiver, *delivery())).status_code == 200, "not remembered as taken"
    assert len(intake.submitted) == 1


async def test_receiver_acknowledges_ignored_entities_without_ingesting(
    receiver: WebhookReceiver, intake: Intake
) -> None:
    response = await post(receiver, *delivery("prompt", "created", name="p"))
    assert response.json() == {"ignored": True}
    assert intake.submitted == []


async def test_receiver_refuses_signed_garbage(receiver: WebhookReceiver) -> None:
    headers, _ = delivery()
    body = b"not json"
    headers["X-MLflow-Signature"] = mlflow_signature(
        SECRET, "d-1", headers["X-MLflow-Timestamp"], "not json"
    )
    assert (await post(receiver, headers, body)).status_code == 400
    assert receiver.stats()["malformed"] == 1


def test_config_requires_a_secret_for_the_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="webhook_secret is required"):
        parse_config("[mlflow]\nwebhook_port = 8790\n")
    monkeypatch.delenv("MDS_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError, match="unset variable"):
        parse_config('[mlflow]\nwebhook_port = 8790\nwebhook_secret = "$MDS_TEST_UNSET"\n')
    monkeypatch.setenv("MDS_TEST_SECRET", "from-env")
    config = parse_config('[mlflow]\nwebhook_port = 8790\nwebhook_secret = "${MDS_TEST_SECRET}"\n')
    assert config.mlflow.secret == "from-env"
    assert parse_config("").mlflow.webhook_port == 0, "the receiver is opt-in"
