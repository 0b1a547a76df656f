"""A real OPC UA peer: an asyncua server and client on loopback, captured and replayed.

The client opens a session (security policy None, anonymous), reads a node and writes it; the
sensor must report the activation, the Read and the Write with the right node ids.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.utils.loopback import loopback_capture
from tests.utils.oracle import needs_tshark
from tests.utils.pcaps import run_sensor

PORT = 4840                                # the analyzer's port: ports are how flows are chosen
pytestmark = needs_tshark                  # dumpcap comes with tshark


async def session(port: int) -> None:
    from asyncua import Client, Server, ua

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/liaowang/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    namespace = await server.register_namespace("urn:liaowang:test")
    tag = await server.nodes.objects.add_variable(ua.NodeId("Tag1", namespace), "Tag1", 7)
    await tag.set_writable()
    async with server, Client(f"opc.tcp://127.0.0.1:{port}/liaowang/") as client:
        node = client.get_node(ua.NodeId("Tag1", namespace))
        assert await node.read_value() == 7
        await node.write_value(ua.Variant(42, ua.VariantType.Int64))


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> list[dict]:
    path = tmp_path_factory.mktemp("opcua") / "peer.pcapng"
    with loopback_capture(path, PORT):
        asyncio.run(session(PORT))
    return [e["opcua"] for e in run_sensor(path) if e["event"]["dataset"] == "opcua"]


def requests(events: list[dict], service: int) -> list[dict]:
    return [e for e in events if e.get("service") == service]


def test_the_session_is_created_and_activated(events) -> None:
    (create,) = requests(events, 461)
    assert create["endpoint_url"] == f"opc.tcp://127.0.0.1:{PORT}/liaowang/"
    (activate,) = requests(events, 467)
    assert activate["identity_token"] == "anonymous" and activate["insecure"] is True
    (activated,) = requests(events, 470)
    assert activated["status_name"] == "Good"


def test_the_read_and_the_write_name_the_node(events) -> None:
    reads = [e for e in requests(events, 631) if e.get("node_ids") == ["ns=2;s=Tag1"]]
    writes = requests(events, 673)
    assert len(reads) == 1 and len(writes) == 1
    assert writes[0]["node_ids"] == ["ns=2;s=Tag1"]
    (written,) = [e for e in requests(events, 676)
                  if e["request_handle"] == writes[0]["request_handle"]]
    assert written["status_code"] == 0


def test_the_channel_is_flagged_insecure(events) -> None:
    opens = [e for e in events if e["message_type"] == "OPN"]
    assert opens and all(e["security_policy"] == "None" and e["insecure"] for e in opens)
    assert {e["message_type"] for e in events} >= {"HEL", "ACK", "OPN", "MSG", "CLO"}
