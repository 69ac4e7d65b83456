"""`airflow-sc users ...` against a real SQLite database under a temporary home."""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import sys
import time
from pathlib import Path

import anyio
import pytest

from airflow_sc.auth import authenticate
from airflow_sc.cli import users_cmd
from airflow_sc.config import load_settings
from airflow_sc.db.engine import open_database


def users(home: Path, *argv: str) -> int:
    """Run `airflow-sc users ARGV...` (the parser as `cli.main` builds it)."""
    parser = argparse.ArgumentParser(prog="airflow-sc")
    users_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["users", *argv])
    settings = load_settings({"AIRFLOW_SC_HOME": str(home)}, cwd=home)
    return int(args.handler(args, settings))


def can_log_in(home: Path, username: str, password: str) -> bool:
    async def check() -> bool:
        async with open_database(f"sqlite:///{home / 'airflow-sc.db'}") as db:
            return await authenticate(db, username, password) is not None

    return anyio.run(check)


def test_create_list_reset_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert users(tmp_path, "create", "--username", "ada", "--role", "op", "--password", "pw1") == 0
    assert "created with role op" in capsys.readouterr().out
    assert users(tmp_path, "create", "-u", "ada", "-r", "viewer", "-p", "x") == 1
    assert "already exists" in capsys.readouterr().err
    assert users(tmp_path, "list", "--output", "json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["username"], u["role"]) for u in listed] == [("ada", "op")]
    assert can_log_in(tmp_path, "ada", "pw1")
    assert users(tmp_path, "reset-password", "-u", "ada", "-p", "pw2") == 0
    assert not can_log_in(tmp_path, "ada", "pw1")
    assert can_log_in(tmp_path, "ada", "pw2")
    assert users(tmp_path, "delete", "-u", "ada") == 0
    assert users(tmp_path, "delete", "-u", "ada") == 1
    assert "no user 'ada'" in capsys.readouterr().err


def test_bad_role_is_rejected_by_the_parser(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        users(tmp_path, "create", "-u", "x", "-r", "superuser", "-p", "x")


CHILD = """
import sys
from pathlib import Path
from tests.cli.test_users_cli import users
sys.exit(users(Path(sys.argv[1]), "create", "-u", "bob", "-r", "viewer"))
"""


def run_on_terminal(home: Path, answers: list[str]) -> tuple[int, str]:
    """Run `users create` without --password on a pseudo-terminal, typing `answers`."""
    pid, fd = pty.fork()
    if pid == 0:  # child: exec at once (nothing else runs after fork)
        os.execv(sys.executable, [sys.executable, "-c", CHILD, str(home)])
    output = b""
    deadline = time.monotonic() + 30
    answered = 0
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            prompts = output.count(b"Password: ") + output.count(b"confirmation: ")
            if answered < min(prompts, len(answers)):
                os.write(fd, answers[answered].encode() + b"\n")
                answered += 1
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_password_is_prompted_twice_when_omitted(tmp_path: Path) -> None:
    code, out = run_on_terminal(tmp_path, ["s3cret", "different"])
    assert code == 1
    assert "do not match" in out
    code, out = run_on_terminal(tmp_path, ["s3cret", "s3cret"])
    assert code == 0, out
    assert "s3cret" not in out  # not echoed
    assert can_log_in(tmp_path, "bob", "s3cret")
