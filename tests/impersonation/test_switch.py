"""A real process becoming its task user (as root, on Linux): its ids, its view of the
file system, its environment; and the refusals, with their reasons."""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_sc.impersonation import ImpersonationError
from airflow_sc.impersonation.accounts import ensure_system_user
from airflow_sc.impersonation.switch import become

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="switching users needs root on Linux (run the tests as root to cover it)",
)

USER = "airflow-sc-task"


def in_child(body: Callable[[], Any]) -> Any:
    """`body()` in a forked child; its JSON result (or its traceback, raised here)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            result = {"value": body()}
        except BaseException as exc:
            result = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        with os.fdopen(write_fd, "w") as out:
            json.dump(result, out)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as source:
        data = json.loads(source.read() or "{}")
    os.waitpid(pid, 0)
    if "error" in data:
        raise AssertionError(data["trace"])
    return data["value"]


def attempt(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return f"denied: {type(exc).__name__}"
    return "allowed"


@pytest.fixture(scope="module", autouse=True)
def task_user() -> None:
    ensure_system_user(USER)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A 0700 home (under pytest's 0700 folder) with a key and a readable dags folder."""
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    home.chmod(0o700)
    (home / "api_signing.key").write_text("secret")
    (home / "api_signing.key").chmod(0o600)
    (home / "dags" / "helper_module.py").write_text("VALUE = 42\n")
    return home


def test_the_process_becomes_the_user_with_its_own_scratch_and_no_way_back(home: Path) -> None:
    scratch = tempfile.mkdtemp(prefix="airflow-sc-test-")

    def body() -> dict[str, Any]:
        switched = become(USER, folders=[str(home / "dags")], scratch=scratch)
        assert switched is not None
        lazily = "xml.dom.minidom" not in sys.modules
        import xml.dom.minidom  # a stdlib module under 0700 /root, imported only now

        sys.path.insert(0, str(home / "dags"))
        import helper_module  # type: ignore[import-not-found]

        Path("written.txt").write_text("ok")
        return {
            "ids": [os.getuid(), os.geteuid(), *os.getresuid(), os.getgid(), *os.getresgid()],
            "groups": os.getgroups(),
            "env": [os.environ[k] for k in ("HOME", "TMPDIR", "USER", "LOGNAME")],
            "cwd": os.getcwd(),
            "tempdir": tempfile.gettempdir(),
            "lazy_import": lazily and xml.dom.minidom.parseString("<a/>").documentElement.tagName,
            "dag_folder_module": helper_module.VALUE,
            "home": sorted(os.listdir(home)),
            "key": attempt(lambda: (home / "api_signing.key").read_text()),
            "back_to_root": attempt(lambda: os.setuid(0)),
            "init_environ": attempt(lambda: Path("/proc/1/environ").read_bytes()),
            "covered": list(switched.covered),
            "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),  # PR_GET_DUMPABLE
        }

    try:
        seen = in_child(body)
        account = pwd.getpwnam(USER)
        assert seen["ids"] == [account.pw_uid] * 5 + [account.pw_gid] * 4
        assert seen["groups"] == os.getgrouplist(USER, account.pw_gid)
        assert seen["env"] == [scratch, scratch, USER, USER]  # the user has no home
        assert seen["cwd"] == scratch == seen["tempdir"]
        assert seen["lazy_import"] == "a"
        assert seen["dag_folder_module"] == 42
        assert seen["home"] == ["dags"]  # the key file is out of sight
        assert seen["key"].startswith("denied")
        assert seen["back_to_root"] == "denied: PermissionError"
        assert seen["init_environ"] == "denied: PermissionError"
        # pytest's 0700 folder was covered, the dags folder put back.
        assert any(Path(covered) in home.parents for covered in seen["covered"])
        assert seen["dumpable"] == 0
        assert (Path(scratch) / "written.txt").read_text() == "ok"
        assert Path(scratch).stat().st_uid == account.pw_uid
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def test_becoming_ones_own_user_changes_nothing() -> None:
    assert in_child(lambda: become("root") is None and os.getuid() == 0) is True


def test_an_unknown_user_is_refused_by_name() -> None:
    def body() -> str:
        try:
            become("no-such-user-airflow-sc")
        except ImpersonationError as exc:
            return str(exc)
        return "switched"

    assert in_child(body) == "there is no OS user 'no-such-user-airflow-sc'"


def test_a_server_that_is_not_root_refuses_to_switch_and_says_why() -> None:
    def body() -> str:
        os.setresuid(65534, 65534, 65534)  # the server, as nobody
        try:
            become(USER)
        except ImpersonationError as exc:
            return str(exc)
        return "switched"

    reason = in_child(body)
    assert reason.startswith(f"the task should run as the OS user {USER!r}, but the server runs")
    assert "not root, and cannot switch users" in reason


_CAP_SYS_ADMIN = 21


def _drop_cap_sys_admin() -> None:
    """Lose CAP_SYS_ADMIN, as in a container that withholds it (capset, version 3)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()
    assert libc.capget(ctypes.byref(header), data) == 0
    data[0].effective &= ~(1 << _CAP_SYS_ADMIN)
    data[0].permitted &= ~(1 << _CAP_SYS_ADMIN)
    assert libc.capset(ctypes.byref(header), data) == 0


def test_without_cap_sys_admin_a_task_that_needs_covers_is_refused(home: Path) -> None:
    def body() -> str:
        _drop_cap_sys_admin()
        try:
            become(USER, folders=[str(home / "dags")])
        except ImpersonationError as exc:
            return str(exc)
        return "switched"

    reason = in_child(body)
    assert reason.startswith("cannot give the task a mount namespace of its own")
    assert "CAP_SYS_ADMIN" in reason


def test_the_dedicated_user_is_created_once_without_home_or_login() -> None:
    name = "airflow-sc-test-new"
    subprocess.run(["userdel", name], capture_output=True, check=False)
    try:
        assert ensure_system_user(name) is True
        assert ensure_system_user(name) is False
        account = pwd.getpwnam(name)
        assert account.pw_uid < 1000  # a system user
        assert account.pw_shell in ("/usr/sbin/nologin", "/bin/false")
        assert not Path(account.pw_dir).exists()
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


def test_a_user_with_a_home_gets_it_as_home_and_the_scratch_as_tmpdir() -> None:
    account = pwd.getpwnam("daemon")  # a stock user whose home exists
    assert Path(account.pw_dir).is_dir()
    scratch = tempfile.mkdtemp(prefix="airflow-sc-test-")

    def body() -> list[str]:
        become("daemon", scratch=scratch)
        return [os.environ["HOME"], os.environ["TMPDIR"], os.getcwd()]

    try:
        assert in_child(body) == [account.pw_dir, scratch, scratch]
    finally:
        os.rmdir(scratch)
