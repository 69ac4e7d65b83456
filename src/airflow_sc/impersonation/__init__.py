"""Running a task process as another OS user (Airflow's ``run_as_user`` and
``core.default_impersonation``), with nothing of the server's files in its reach.

- `policy`: which user a try runs as (pure);
- `paths`: which directories a task process needs and which of their ancestors a user
  cannot pass (pure);
- `mounts`: the Linux system calls that give a process its own view of those directories;
- `accounts`: finding and creating OS users;
- `switch`: what a task process does, as root, to become its user (`become`).
"""

from airflow_sc.impersonation.policy import Impersonation, ImpersonationError, task_user

__all__ = ["Impersonation", "ImpersonationError", "task_user"]
