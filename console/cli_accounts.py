"""``liaowang users`` and ``liaowang tokens``: console accounts from the command line.

Both work on the accounts file of the configuration (``console.accounts_db``), and record what
they did in the audit log as ``cli:<login name>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import closing
from pathlib import Path

from console.auth.accounts import Accounts
from console.auth.db import AccountsError
from console.auth.roles import PEOPLE, Role
from console.auth.users import AccountConflict, check_password_rules

ROLES = [role.value for role in Role]


def add_parser(commands: argparse._SubParsersAction) -> None:
    _add_users(commands)
    _add_tokens(commands)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML configuration file")
    parser.add_argument("--accounts-db", metavar="PATH",
                        help="accounts file (default from the configuration)")


def _add_users(commands: argparse._SubParsersAction) -> None:
    users = commands.add_parser("users", help="console users")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user with a password")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=[role.value for role in PEOPLE])
    add.add_argument("--password-file", metavar="F",
                     help="read the password from the first line of F (else it is prompted)")
    _common(add)
    add.set_defaults(run=run_users_add)
    listing = actions.add_parser("list", help="list users and their roles")
    _common(listing)
    listing.set_defaults(run=run_users_list)


def _add_tokens(commands: argparse._SubParsersAction) -> None:
    tokens = commands.add_parser("tokens", help="API tokens for automation and sensors")
    actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token; it is printed on the last line")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--expires-days", type=float, metavar="N",
                        help="the token stops working after N days (default: never)")
    _common(create)
    create.set_defaults(run=run_tokens_create)


def first_run_login(accounts: Accounts, url: str) -> str | None:
    """On first run, create ``admin`` and say how to log in; None when users exist."""
    created = accounts.create_first_admin()
    if created is None:
        return None
    user, password = created
    return (f"First run: log in at {url} as {user.username} with password {password}\n"
            "  (shown only now; add named accounts with "
            "'liaowang users add NAME --role analyst')")


def open_accounts(args: argparse.Namespace) -> Accounts:
    from console.cli import Refused, _settings

    settings = _settings(args).console
    path = getattr(args, "accounts_db", None) or settings.accounts_db
    try:
        return Accounts.open(path, settings)
    except AccountsError as exc:
        raise Refused(str(exc)) from exc


def run_users_add(args: argparse.Namespace) -> int:
    from console.cli import Refused

    password = _read_password(args.password_file) if args.password_file else _prompt_password()
    with closing(open_accounts(args)) as accounts:
        try:
            user = accounts.users.add(args.name, password, Role(args.role))
        except (AccountConflict, ValueError) as exc:
            raise Refused(str(exc)) from exc
        accounts.audit.record(_actor(), "user.create", user.username, "local",
                              f"role={user.role}")
    print(f"user {user.username} added with role {user.role}", file=sys.stderr)
    return 0


def run_users_list(args: argparse.Namespace) -> int:
    with closing(open_accounts(args)) as accounts:
        for user in accounts.users.list():
            print(f"{user.username}\t{user.role}")
    return 0


def run_tokens_create(args: argparse.Namespace) -> int:
    from console.cli import Refused

    with closing(open_accounts(args)) as accounts:
        try:
            token, secret = accounts.tokens.create(args.name, Role(args.role), _actor(),
                                                   args.expires_days)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        accounts.audit.record(_actor(), "token.create", token.id, "local",
                              f"name={token.name} role={token.role}")
    print(f"token {token.id} ({token.name}, role {token.role}); it is shown only now:",
          file=sys.stderr)
    print(secret)
    return 0


def _read_password(path: str) -> str:
    from console.cli import Refused

    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise Refused(f"{path}: {exc.strerror or exc}") from exc
    password = lines[0] if lines else ""
    return _checked(password)


def _prompt_password() -> str:
    from console.cli import Refused

    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise Refused("the two passwords differ")
    return _checked(password)


def _checked(password: str) -> str:
    from console.cli import Refused

    try:
        check_password_rules(password)
    except ValueError as exc:
        raise Refused(str(exc)) from exc
    return password


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
