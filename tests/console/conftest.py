"""Fixtures for the console tests: a real SQLite store holding a few events, a real accounts
file with one user and one API token per role, and the app on them.

The events are dated relative to now, so the console's "last 15 min / 1 h" ranges see them.
``client`` calls the API as an admin (a bearer token); ``client_as(role)`` as another role.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.app import create_app
from console.auth.accounts import Accounts
from console.auth.roles import Role
from liaowang.config import (
    ConsoleSettings,
    DetectionSettings,
    ResponseSettings,
    Settings,
)
from liaowang.events import event_id
from liaowang.schema import validate
from pipelines.store import open_store
from pipelines.store.base import Event, Store

CLIENT = ("10.0.0.1", 49152)
PLC = ("10.0.0.2", 502)
HOSTILE = '<img src="http://203.0.113.9/x.png"><script>document.title="owned"</script>'


def stamp(ago: timedelta) -> str:
    """The ECS timestamp of ``ago`` before now."""
    return f"{datetime.now(UTC) - ago:%Y-%m-%dT%H:%M:%S.%f}Z"


def _event(dataset: str, ago: timedelta, frame: int, src: tuple[str, int] = CLIENT,
           dst: tuple[str, int] = PLC) -> Event:
    timestamp = stamp(ago)
    return {
        "@timestamp": timestamp,
        "event": {"id": event_id(dataset, timestamp, frame), "kind": "event", "dataset": dataset},
        "observer": {"name": "tap1"},
        "source": {"ip": src[0], "port": src[1]},
        "destination": {"ip": dst[0], "port": dst[1]},
        "network": {"transport": "tcp", "protocol": dataset,
                    "community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
        "pcap": {"frame": frame},
    }


def modbus_event(ago: timedelta, frame: int, function_code: int, name: str,
                 transaction_id: int, response: bool = False, **extra: object) -> Event:
    src, dst = (PLC, CLIENT) if response else (CLIENT, PLC)
    event = _event("modbus", ago, frame, src, dst)
    event["modbus"] = {"transaction_id": transaction_id, "unit_id": 1,
                       "function_code": function_code, "function_name": name,
                       "is_response": response, **extra}
    return event


def flow_event(ago: timedelta, frame: int) -> Event:
    event = _event("flow", ago, frame)
    event["event"] |= {"start": stamp(ago + timedelta(seconds=30)), "end": stamp(ago)}
    event["source"] |= {"packets": 12, "bytes": 900}
    event["destination"] |= {"packets": 10, "bytes": 1200}
    event["flow"] = {"end_reason": "tcp_close"}
    return event


def weird_event(ago: timedelta, frame: int) -> Event:
    event = _event("weird", ago, frame)
    # Captured bytes are hostile: the page must show this as text, never load it.
    event["weird"] = {"name": "modbus_invalid_protocol_id", "analyzer": "modbus",
                      "detail": HOSTILE}
    return event


@pytest.fixture
def events() -> dict[str, Event]:
    """Seven events by name; all but ``old_read`` fall within the last hour."""
    minute = timedelta(minutes=1)
    return {
        "read_request": modbus_event(1 * minute, 12, 3, "read_holding_registers", 1),
        "read_response": modbus_event(0.9 * minute, 13, 3, "read_holding_registers", 1,
                                      response=True),
        "write_request": modbus_event(2 * minute, 20, 6, "write_single_register", 2),
        "exception": modbus_event(3 * minute, 31, 134, "write_single_register", 3,
                                  response=True, exception_code=2,
                                  exception_name="illegal_data_address"),
        "flow": flow_event(5 * minute, 40),
        "weird": weird_event(30 * minute, 41),
        "old_read": modbus_event(timedelta(days=2), 2, 3, "read_holding_registers", 9),
    }


@pytest.fixture
def store(tmp_path: Path, events: dict[str, Event]) -> Iterator[Store]:
    for name, event in events.items():
        assert validate(event) == [], name
    with open_store(f"sqlite:///{tmp_path / 'events.db'}") as store:
        store.write(list(events.values()))
        yield store


# argon2id still, with less time and memory than production so that the suite stays fast.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def password_of(role: Role | str) -> str:
    return f"{role}-password-for-tests"


@dataclass(frozen=True)
class AccountsTemplate:
    """An accounts file made once per session (argon2 is slow on purpose), copied per test."""

    path: Path
    tokens: dict[Role, str]


@pytest.fixture(scope="session")
def accounts_template(tmp_path_factory: pytest.TempPathFactory) -> AccountsTemplate:
    path = tmp_path_factory.mktemp("accounts") / "console.db"
    accounts = Accounts.open(path, hasher=FAST_HASHER)
    tokens = {}
    for role in Role:
        accounts.users.add(role.value, password_of(role), role)
        tokens[role] = accounts.tokens.create(f"{role}-automation", role, "tests")[1]
    accounts.close()
    return AccountsTemplate(path, tokens)


@pytest.fixture
def console_settings(tmp_path: Path) -> ConsoleSettings:
    return ConsoleSettings(accounts_db=str(tmp_path / "console.db"), stream_poll_s=0.05)


@pytest.fixture
def accounts(accounts_template: AccountsTemplate,
             console_settings: ConsoleSettings) -> Iterator[Accounts]:
    shutil.copy(accounts_template.path, console_settings.accounts_db)
    accounts = Accounts.open(console_settings.accounts_db, console_settings,
                             hasher=FAST_HASHER)
    yield accounts
    accounts.close()


@pytest.fixture
def tokens(accounts_template: AccountsTemplate) -> dict[Role, str]:
    """The API token of each role, by role."""
    return accounts_template.tokens


@pytest.fixture
def app(store: Store, accounts: Accounts, console_settings: ConsoleSettings,
        tmp_path: Path) -> FastAPI:
    detection = DetectionSettings(overrides_file=str(tmp_path / "rule-overrides.yml"))
    response = ResponseSettings(actions_db=str(tmp_path / "actions.db"))
    return create_app(store, Settings(console=console_settings, detection=detection,
                                      response=response), accounts)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    """A client without credentials."""
    with TestClient(app) as client:
        yield client


@pytest.fixture
def client_as(app: FastAPI, tokens: dict[Role, str]) -> Iterator[Callable[[Role], TestClient]]:
    """``client_as(role)``: a client sending that role's API token."""
    opened: list[TestClient] = []

    def client_for(role: Role) -> TestClient:
        client = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role(role)]}"})
        opened.append(client)
        return client

    yield client_for
    for client in opened:
        client.close()


@pytest.fixture
def client(client_as: Callable[[Role], TestClient]) -> TestClient:
    """A client acting as an admin, who may use every route."""
    return client_as(Role.admin)
