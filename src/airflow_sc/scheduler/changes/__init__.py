"""Wake-ups: what changed, announced once and heard by whoever acts on it.

`ChangeFeed` (``feed.py``) is the one interface: producers announce changes, in-process
consumers subscribe (a running scheduler through ``stages.py``), and each transport to
other processes is its own module: ``postgres.py`` (LISTEN/NOTIFY) and ``local_socket.py``
(the SQLite scheduler's datagram socket). ``notes.py`` holds what a note says and its wire
format.
"""

from airflow_sc.scheduler.changes.feed import ChangeFeed, Listener
from airflow_sc.scheduler.changes.notes import Change, Note
from airflow_sc.scheduler.changes.stages import stage_subscriber, wake_stages

__all__ = ["Change", "ChangeFeed", "Listener", "Note", "stage_subscriber", "wake_stages"]
