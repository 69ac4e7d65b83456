"""`airflow-sc dags check-compat [FOLDER]`: the Airflow names a DAG folder uses that
airflow-sc does not support yet.

A static reading of the files (nothing is imported or run). Exit code 0 when every Airflow
name is supported, 1 when some are not (each is listed with its file and line), 2 when the
folder does not exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from airflow_sc.compat.scan import FileReport, scan_folder
from airflow_sc.config import Settings

__all__ = ["register_check_compat"]


def register_check_compat(actions: Any) -> None:
    parser = actions.add_parser(
        "check-compat",
        help="list the Airflow names DAG files use that airflow-sc does not support yet",
    )
    parser.add_argument(
        "folder",
        metavar="FOLDER",
        nargs="?",
        type=Path,
        help="folder (or file) to check (default: core.dags_folder)",
    )
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    parser.add_argument(
        "--all", action="store_true", help="also list the supported Airflow names used"
    )
    parser.set_defaults(handler=check_compat)


def _as_json(reports: list[FileReport], include_supported: bool) -> str:
    out = []
    for report in reports:
        usages = [
            {"line": u.lineno, "name": u.name, "supported": u.supported}
            for u in report.usages
            if include_supported or not u.supported
        ]
        if usages or report.error:
            out.append({"file": str(report.path), "error": report.error, "names": usages})
    return json.dumps(out, indent=2)


def check_compat(args: argparse.Namespace, settings: Settings) -> int:
    folder: Path = args.folder or settings.dags_folder
    if not folder.exists():
        print(f"airflow-sc: {folder} does not exist", file=sys.stderr)
        return 2
    reports = scan_folder(folder)
    missing = sorted({u.name for r in reports for u in r.unsupported})
    if args.output == "json":
        print(_as_json(reports, args.all))
    else:
        for report in reports:
            if report.error:
                print(f"{report.path}: could not be read: {report.error}")
            for usage in report.usages:
                if usage.supported and not args.all:
                    continue
                status = "supported" if usage.supported else "NOT SUPPORTED yet"
                print(f"{report.path}:{usage.lineno}: {usage.name}: {status}")
        used = {u.name for r in reports for u in r.usages}
        print(
            f"{len(reports)} files, {len(used)} distinct Airflow names, "
            f"{len(missing)} not supported yet" + (f": {', '.join(missing)}" if missing else "")
        )
    return 1 if missing else 0
