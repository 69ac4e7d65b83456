"""children: a real zygote forking real children, driven from async code.

The programs are in `programs.py`; each test speaks the typed messages to a
zygote the way parsing and the local executor do.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from airflow_sc.children import (
    Call,
    ChildExit,
    Ending,
    Exited,
    Fork,
    Forked,
    FromZygote,
    Ready,
    Reply,
    Stop,
)
from airflow_sc.children.messages import decode, encode
from airflow_sc.children.parent import Zygote, ZygoteDied, open_zygote

pytestmark = pytest.mark.anyio

SCRIPT = "tests.children.programs:SCRIPT"
RACE = "tests.children.programs:RACE"


@pytest.fixture
async def zygote() -> AsyncIterator[Zygote]:
    async with open_zygote(SCRIPT, "an-argument") as started:
        with anyio.fail_after(30):
            assert isinstance(await started.receive(), Ready)
        yield started


async def run(zygote: Zygote, fork: Fork) -> tuple[int, list[FromZygote], Exited]:
    """Send `fork`; the child's pid, the messages before its end, and its end."""
    await zygote.send(fork)
    seen: list[FromZygote] = []
    with anyio.fail_after(30):
        while not isinstance(message := await zygote.receive(), Exited):
            seen.append(message)
    forked = [m for m in seen if isinstance(m, Forked)]
    assert [m.job for m in forked] == [fork.job]
    return forked[0].pid, seen, message


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def wait_gone(pid: int) -> None:
    """SIGKILL was sent; the kernel finishes the process off asynchronously."""
    with anyio.fail_after(10):
        while not gone(pid):
            await anyio.sleep(0.01)


def steps(*items: tuple[str, Any]) -> dict[str, Any]:
    return {"steps": [list(item) for item in items]}


async def test_a_child_returns_its_result_and_ends_on_its_own(zygote: Zygote) -> None:
    fork = Fork("job-1", steps(("result", {"answer": 42}), ("write", None)))
    pid, _, exited = await run(zygote, fork)

    assert exited.job == "job-1"
    assert exited.result == {"args": ["an-argument"], "answer": 42}
    assert (exited.exit.code, exited.exit.signal, exited.exit.ending) == (
        0,
        None,
        Ending.ON_ITS_OWN,
    )
    assert exited.exit.describe() == "exited with code 0"
    assert exited.exit.duration > 0
    assert pid != zygote.pid
    assert gone(pid)  # reaped by the zygote before it answered


async def test_exit_codes_and_signals_are_described(zygote: Zygote) -> None:
    _, _, exited = await run(zygote, Fork("a", steps(("exit", 7))))
    assert (exited.result, exited.exit.describe()) == (None, "exited with code 7")
    _, _, killed = await run(zygote, Fork("b", steps(("kill", signal.SIGSEGV))))
    assert killed.exit.signal == signal.SIGSEGV
    assert killed.exit.describe() == "killed by SIGSEGV"
    assert killed.exit.ending is Ending.ON_ITS_OWN
    _, _, raised = await run(zygote, Fork("c", steps(("raise", "boom"))))
    assert raised.exit.describe() == "exited with code 1"


async def test_a_timed_out_child_is_terminated_then_killed_and_says_so(
    zygote: Zygote, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    hangs = Fork(
        "hangs",
        {**steps(("hang", None)), "notes": str(notes)},
        timeout=0.2,
        grace=5.0,
        name="task",
    )
    _, _, exited = await run(zygote, hangs)
    assert exited.exit.ending is Ending.TIMED_OUT
    assert exited.exit.reason == "timed out after 0.2s"
    assert exited.exit.describe() == "killed by SIGTERM"
    assert notes.read_text() == "Stopping the task: timed out after 0.2s\n"

    stubborn = Fork(
        "stubborn",
        {**steps(("ignore_sigterm", None), ("hang", None)), "notes": str(notes)},
        timeout=0.2,
        timeout_reason="took too long",
        grace=0.2,
    )
    _, _, killed = await run(zygote, stubborn)
    assert (killed.exit.ending, killed.exit.reason) == (Ending.TIMED_OUT, "took too long")
    assert killed.exit.describe() == "killed by SIGKILL"
    assert notes.read_text().splitlines()[1:] == [
        "Stopping the child: took too long",
        "The child did not stop after SIGTERM: killing it",
    ]


async def test_a_stop_from_the_parent_ends_the_child_with_its_reason(
    zygote: Zygote, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    fork = Fork("job", steps(("touch", str(marker)), ("hang", None)), grace=5.0)
    await zygote.send(fork)
    with anyio.fail_after(30):
        assert isinstance(await zygote.receive(), Forked)
        while not marker.exists() or not marker.read_text():  # the child is in its job
            await anyio.sleep(0.01)
        await zygote.send(Stop("another-job", "not this one", 0.0))  # ignored
        await zygote.send(Stop("job", "stopped by the user", 5.0))
        await zygote.send(Stop("job", "a second reason", 5.0))  # the first one stays
        exited = await zygote.receive()
    assert isinstance(exited, Exited)
    assert (exited.exit.ending, exited.exit.reason) == (Ending.STOPPED, "stopped by the user")
    assert exited.exit.describe() == "killed by SIGTERM"


async def test_the_whole_process_group_is_killed_when_the_child_ends(zygote: Zygote) -> None:
    fork = Fork("job", steps(("grandchild", None), ("write", None)))
    _, _, exited = await run(zygote, fork)
    assert exited.exit.code == 0
    await wait_gone(exited.result["grandchild"])


async def test_a_child_over_its_memory_limit_ends_out_of_memory(zygote: Zygote) -> None:
    fork = Fork("job", steps(("allocate", 2 * 1024**3), ("write", None)), max_memory=1024**3)
    _, _, exited = await run(zygote, fork)
    assert exited.result is None
    assert exited.exit.ending is Ending.OUT_OF_MEMORY
    assert exited.exit.reason == f"it ran out of memory (limit {1024**3} bytes)"


async def test_a_result_over_the_limit_is_dropped(zygote: Zygote) -> None:
    fork = Fork("job", steps(("result", {"text": "x" * 5000}), ("write", None)), result_limit=1000)
    _, _, exited = await run(zygote, fork)
    assert (exited.result, exited.oversized, exited.exit.code) == (None, True, 0)


async def test_the_childs_calls_go_up_and_replies_come_down(zygote: Zygote) -> None:
    fork = Fork(
        "job",
        steps(
            ("call", {"id": 1, "op": "ping"}),
            ("call", {"id": 2, "op": "pong"}),
            ("write", None),
        ),
        channel=True,
    )
    await zygote.send(fork)
    calls = []
    with anyio.fail_after(30):
        while not isinstance(message := await zygote.receive(), Exited):
            if isinstance(message, Call):
                calls.append(message.call)
                await zygote.send(Reply("job", {"id": message.call["id"], "status": 200}))
    assert calls == [{"id": 1, "op": "ping"}, {"id": 2, "op": "pong"}]
    assert message.result["replies"] == [{"id": 1, "status": 200}, {"id": 2, "status": 200}]


async def test_a_call_too_deep_to_decode_is_answered_and_the_zygote_lives(zygote: Zygote) -> None:
    levels = 100_000  # past what the zygote's JSON decoder can recurse into
    fork = Fork(
        "job",
        steps(("call_raw", "[" * levels + "]" * levels), ("write", None)),
        channel=True,
    )
    _, seen, exited = await run(zygote, fork)
    assert not any(isinstance(message, Call) for message in seen)  # nothing went up
    assert exited.result["replies"] == [
        {"id": None, "status": 400, "detail": "the call is nested too deeply to be read"}
    ]
    _, _, after = await run(zygote, Fork("next", steps(("result", {"ok": 1}), ("write", None))))
    assert after.result["ok"] == 1


async def test_what_a_child_wrote_before_exiting_is_relayed_before_its_exit() -> None:
    """The child writes its call and result and exits while the zygote is busy between two
    selects (in its relay's timer). Acting on that exit before the next select would lose
    both; the zygote sends them, then `Exited`."""
    async with open_zygote(RACE) as zygote:
        with anyio.fail_after(30):
            assert isinstance(await zygote.receive(), Ready)
        for job in ("first", "second", "third"):
            _, seen, exited = await run(zygote, Fork(job, steps(), channel=True))
            assert [m.call for m in seen if isinstance(m, Call)] == [{"id": 1, "op": "finish"}]
            assert exited.result == {"finished": True}
            assert exited.exit.code == 0


async def test_closing_the_zygote_kills_its_running_child(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    async with open_zygote(SCRIPT) as zygote:
        with anyio.fail_after(30):
            assert isinstance(await zygote.receive(), Ready)
            await zygote.send(Fork("job", steps(("touch", str(marker)), ("hang", None))))
            forked = await zygote.receive()
            while not marker.exists() or not marker.read_text():
                await anyio.sleep(0.01)
    assert isinstance(forked, Forked)
    await wait_gone(forked.pid)
    assert zygote.process.returncode == 0
    last = await zygote.receive()  # its last word, sent before it exited
    assert isinstance(last, Exited)
    assert (last.exit.ending, last.exit.reason) == (Ending.STOPPED, "the parent process stopped")
    with pytest.raises(ZygoteDied):
        await zygote.receive()


async def test_a_zygote_that_dies_shows_on_the_next_receive() -> None:
    async with open_zygote(SCRIPT) as zygote:
        with anyio.fail_after(30):
            assert isinstance(await zygote.receive(), Ready)
            os.kill(zygote.pid, signal.SIGKILL)
            with pytest.raises(ZygoteDied):
                await zygote.receive()


@pytest.mark.parametrize(
    "message",
    [
        Fork("j", {"a": [1]}, timeout=2.5, timeout_reason="slow", max_memory=3, channel=True),
        Stop("j", None, 1.0, note="cleared"),
        Reply("j", {"id": 1, "status": 409}),
        Ready(12),
        Forked("j", 34),
        Call("j", {"op": "start"}),
        Exited("j", ChildExit(None, 9, Ending.STOPPED, "bye", 1.5), {"x": 1}, oversized=False),
    ],
)
def test_messages_survive_the_wire(message: Any) -> None:
    assert decode(encode(message)) == message


def test_wait_statuses_are_described() -> None:
    assert ChildExit.from_wait_status(3 << 8).describe() == "exited with code 3"
    assert ChildExit.from_wait_status(signal.SIGKILL).describe() == "killed by SIGKILL"
    # The out-of-memory code means out of memory only under a memory limit.
    assert ChildExit.from_wait_status(251 << 8).ending is Ending.ON_ITS_OWN
    assert ChildExit.from_wait_status(251 << 8, max_memory=10).ending is Ending.OUT_OF_MEMORY
    with pytest.raises(ValueError, match="unknown message kind"):
        decode(b'{"kind": "explode"}')
