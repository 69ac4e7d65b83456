"""Process-wide logging set-up, done once by the CLI (the composition root)."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # hypercorn logs every connection at INFO; keep it for debugging only.
    logging.getLogger("airflow_sc.api.server").setLevel(max(logging.WARNING, root.level))
