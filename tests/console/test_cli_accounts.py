"""``liaowang users add``, ``liaowang tokens create`` and the first-run admin of ``liaowang up``."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from console.auth.accounts import Accounts
from console.auth.roles import Role
from console.cli import main
from console.cli_accounts import first_run_login


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "console.db"


def test_users_add_from_a_password_file(db: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text("a long passphrase\n")
    assert main(["users", "add", "ana", "--role", "analyst", "--password-file",
                 str(password_file), "--accounts-db", str(db)]) == 0
    with closing(Accounts.open(db)) as accounts:
        user = accounts.users.authenticate("ana", "a long passphrase")
        assert user is not None and user.role is Role.analyst
        entry = accounts.audit.recent(1)[0]
        assert (entry.action, entry.target, entry.source_ip) == ("user.create", "ana", "local")
    assert main(["users", "list", "--accounts-db", str(db)]) == 0
    assert capsys.readouterr().out == "ana\tanalyst\n"


@pytest.mark.parametrize(("password", "reason"), [("short\n", "at least 10 characters"),
                                                   ("", "at least 10 characters")])
def test_users_add_refuses_weak_passwords(db: Path, tmp_path: Path, password: str, reason: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(password)
    assert main(["users", "add", "ana", "--role", "viewer", "--password-file",
                 str(password_file), "--accounts-db", str(db)]) == 2
    assert reason in capsys.readouterr().err


def test_users_add_refuses_a_taken_name(db: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text("a long passphrase")
    args = ["users", "add", "ana", "--role", "viewer", "--password-file", str(password_file),
            "--accounts-db", str(db)]
    assert main(args) == 0
    assert main(args) == 2
    assert "exists already" in capsys.readouterr().err


def test_tokens_create_prints_the_token_last(db: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tokens", "create", "sensor-1", "--role", "analyst", "--expires-days", "7",
                 "--accounts-db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    with closing(Accounts.open(db)) as accounts:
        token = accounts.tokens.authenticate(out[-1])
        assert token is not None and (token.name, token.role) == ("sensor-1", Role.analyst)
        assert token.expires_at is not None


def test_first_run_creates_admin_once(db: Path) -> None:
    with closing(Accounts.open(db)) as accounts:
        message = first_run_login(accounts, "http://127.0.0.1:8080/")
        assert message is not None and "http://127.0.0.1:8080/" in message
        password = message.split("with password ")[1].split()[0]
        assert accounts.users.authenticate("admin", password) is not None
        assert first_run_login(accounts, "http://127.0.0.1:8080/") is None
        assert [u.username for u in accounts.users.list()] == ["admin"]
