"""A warm zygote process: imports once, then forks one isolated child per job.

Run as ``python -m airflow_sc.children.zygote module:attribute [args...]``, where
``module:attribute`` names a `ChildProgram`. The zygote keeps its protocol channel private
(anything printed by accident goes to stderr), ignores SIGINT (Ctrl-C reaches the whole
foreground group; its parent decides about shutdown), calls the program's `warm_up`,
freezes what it imported out of the collector's sight (a child's collections then never
touch, and copy, the zygote's pages) and sends `Ready`. Then, one job at a time, it takes a
`Fork` from stdin and runs it in a `fork()` of itself (`child.py`: about a millisecond,
against 12-100+ ms for a new interpreter). When stdin closes (the parent went away) it
kills the running child's group and exits: nothing outlives the parent.
"""

from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
from typing import cast

from airflow_sc.children.child import run_child
from airflow_sc.children.inbox import Inbox
from airflow_sc.children.messages import Fork, FromZygote, Ready, encode
from airflow_sc.children.program import ChildProgram

__all__ = ["load_program", "main"]


def main(argv: list[str]) -> int:
    """The zygote's main loop; `argv` is ``[program, *args]``."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    program = load_program(argv[0])
    program.warm_up(argv[1:])
    gc.freeze()

    def send(message: FromZygote) -> None:
        data = encode(message)
        while data:
            data = data[os.write(protocol_fd, data) :]

    send(Ready(os.getpid()))
    inbox = Inbox(0)
    while (message := inbox.next_message()) is not None:
        if isinstance(message, Fork):
            program.prepare(message)
            gc.freeze()  # what it loaded too: children never copy its pages
            run_child(program, message, inbox, send, protocol_fd=protocol_fd)
        # a Stop or Reply for a job that already ended: nothing to do
    return 0


def load_program(name: str) -> ChildProgram:
    """The program ``module:attribute`` names."""
    module_name, _, attribute = name.partition(":")
    if not attribute:
        raise ValueError(f"a program is named module:attribute, not {name!r}")
    return cast(ChildProgram, getattr(importlib.import_module(module_name), attribute))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
