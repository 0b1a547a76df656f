"""A real Modbus/TCP peer: a pymodbus server and client on loopback, captured and replayed.

The client writes registers and coils, reads them back and asks for the device identification;
the sensor must report those addresses and values, with each response paired to its request.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.utils.loopback import loopback_capture
from tests.utils.oracle import needs_tshark
from tests.utils.pcaps import run_sensor

PORT = 502                                 # the analyzer's only port
REGISTERS = [1234, 0, 65535, 7]
COILS = [True, False, True, True, False, False, True, False, True]
pytestmark = needs_tshark                  # dumpcap comes with tshark


async def exchange(port: int) -> None:
    from pymodbus import ModbusDeviceIdentification
    from pymodbus.client import AsyncModbusTcpClient
    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.server import ModbusTcpServer

    device = ModbusDeviceContext(hr=ModbusSequentialDataBlock(1, [0] * 200),
                                 co=ModbusSequentialDataBlock(1, [False] * 200))
    identity = ModbusDeviceIdentification(info_name={
        "VendorName": "Liaowang Test", "ProductCode": "LW-1", "MajorMinorRevision": "1.2.3"})
    server = ModbusTcpServer(ModbusServerContext(devices=device, single=True),
                             identity=identity, address=("127.0.0.1", port))
    serving = asyncio.create_task(server.serve_forever())
    await asyncio.sleep(0.3)
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    try:
        assert await client.connect()
        await client.write_registers(100, REGISTERS)
        await client.write_register(110, 42)
        await client.write_coils(20, COILS)
        await client.write_coil(40, True)
        assert (await client.read_holding_registers(100, count=4)).registers == REGISTERS
        assert (await client.read_coils(20, count=9)).bits[:9] == COILS
        await client.read_device_information()
    finally:
        client.close()
        await server.shutdown()
        serving.cancel()


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> list[dict]:
    path = tmp_path_factory.mktemp("modbus") / "peer.pcapng"
    with loopback_capture(path, PORT):
        asyncio.run(exchange(PORT))
    return [e["modbus"] for e in run_sensor(path) if e["event"]["dataset"] == "modbus"]


def only(events: list[dict], function: int, is_response: bool) -> list[dict]:
    return [e for e in events if e["function_code"] == function
            and e["is_response"] is is_response]


def test_register_writes_carry_addresses_and_values(events) -> None:
    (multiple,) = only(events, 16, False)
    assert multiple | {"address": 100, "quantity": 4, "values": REGISTERS} == multiple
    (single,) = only(events, 6, False)
    assert single["address"] == 110 and single["values"] == [42]
    (echo,) = only(events, 16, True)
    assert echo["address"] == 100 and echo["quantity"] == 4


def test_coil_writes_carry_addresses_and_states(events) -> None:
    (multiple,) = only(events, 15, False)
    assert multiple["address"] == 20 and multiple["values"] == [int(c) for c in COILS]
    (single,) = only(events, 5, False)
    assert single["address"] == 40 and single["values"] == [1]


def test_read_responses_carry_the_requested_address_and_the_values(events) -> None:
    (registers,) = only(events, 3, True)
    assert registers | {"address": 100, "quantity": 4, "values": REGISTERS} == registers
    (coils,) = only(events, 1, True)
    assert coils | {"address": 20, "quantity": 9, "values": [int(c) for c in COILS]} == coils


def test_device_identification(events) -> None:
    (answer,) = only(events, 43, True)
    assert answer["mei_type"] == 14
    assert answer["vendor_name"] == "Liaowang Test" and answer["product_code"] == "LW-1"
    assert answer["revision"] == "1.2.3"
