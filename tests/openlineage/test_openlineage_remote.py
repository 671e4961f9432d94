"""The ``openlineage-python`` client's own HTTP transport, as a pipeline on another host
uses it: to the TCP listener over TLS (our CA), its ``api_key`` sent as the bearer token.
A ``write`` token feeds the graph; a ``read`` token is refused and feeds nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid

from mds.client import ApiError
from mds.testing import DaemonProcess
from simulator import SimulatorThread, World
from tests.openlineage.test_openlineage_e2e import OUTPUT, events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with (
        SimulatorThread(World.generate(size=20, seed=5)) as simulator,
        DaemonProcess(tmp_path_factory.mktemp("ol-tls"), simulator.base_url, tls=True) as running,
    ):
        yield running


def lineage_client(daemon: DaemonProcess, token: str) -> OpenLineageClient:
    """What ``OPENLINEAGE_URL`` and ``OPENLINEAGE_API_KEY`` configure, with our CA."""
    config = HttpConfig.from_dict(
        {
            "url": daemon.server_url,
            "auth": {"type": "api_key", "apiKey": token},
            "sslContext": {"caCertPath": str(daemon.cacert)},
            "retry": {"total": 0},
        }
    )
    return OpenLineageClient(transport=HttpTransport(config))


def test_a_write_token_feeds_the_graph_and_a_read_token_is_refused(
    daemon: DaemonProcess,
) -> None:
    run_id = str(generate_new_uuid())
    run = f"aip://pipeline-run/openlineage/{run_id}"
    writer = lineage_client(daemon, daemon.token("nightly-pipeline", "write"))
    for event in events(run_id):
        writer.emit(event)
    assert daemon.call("wait_idle", 60)["idle"]
    assert daemon.call("entity", run)["attributes"]["status"] == "succeeded"
    upstream = daemon.call("lineage", OUTPUT, direction="upstream")
    assert run in {node["id"] for node in upstream["nodes"]}

    refused_run = str(generate_new_uuid())
    reader = lineage_client(daemon, daemon.token("analyst", "read"))
    with pytest.raises(Exception, match="403"):
        reader.emit(events(refused_run)[0])
    assert daemon.call("wait_idle", 60)["idle"]
    with pytest.raises(ApiError) as missing:
        daemon.call("entity", f"aip://pipeline-run/openlineage/{refused_run}")
    assert missing.value.status == 404
