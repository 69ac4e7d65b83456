"""Python virtual environments for `PythonVirtualenvOperator` and ``@task.virtualenv``.

An environment is identified by what makes it: the Python version, the requirements, the
pip options and whether it sees the system site packages. It is built once, with the
standard library's ``venv`` module and the environment's own pip, under the cache folder
(``<AIRFLOW_SC_HOME>/venvs`` unless the operator names another), and reused by every later
try with the same identity. A lock file serializes concurrent builds of one environment; a
half-built one is never used (the build happens in a temporary folder renamed into place).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .exceptions import AirflowException

__all__ = ["VirtualenvSpec", "ensure_virtualenv", "python_for_version"]

_READY = ".airflow-sc-ready"


@dataclass(frozen=True, slots=True)
class VirtualenvSpec:
    python: str
    requirements: tuple[str, ...] = ()
    system_site_packages: bool = True
    pip_install_options: tuple[str, ...] = ()
    index_urls: tuple[str, ...] = ()

    def key(self) -> str:
        """A stable name for the environment these choices make."""
        data = json.dumps(
            {
                "python": self.python,
                "version": _python_version(self.python),
                "requirements": sorted(self.requirements),
                "system_site_packages": self.system_site_packages,
                "pip_install_options": list(self.pip_install_options),
                "index_urls": list(self.index_urls),
            },
            sort_keys=True,
        )
        return "venv-" + hashlib.sha256(data.encode()).hexdigest()[:16]


def python_for_version(version: str | None) -> str:
    """The interpreter for ``python_version`` (this one when None or equal)."""
    if not version:
        return sys.executable
    wanted = str(version)
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted in (current, str(sys.version_info.major)):
        return sys.executable
    found = shutil.which(f"python{wanted}")
    if found is None:
        raise AirflowException(f"python_version {wanted!r}: no python{wanted} on PATH")
    return found


def _python_version(python: str) -> str:
    if python == sys.executable:
        return sys.version.split()[0]
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_virtualenv(spec: VirtualenvSpec, cache: Path, log: Callable[[str], None]) -> Path:
    """The Python interpreter of the environment `spec` describes, built if needed."""
    target = cache / spec.key()
    python = target / "bin" / "python"
    if (target / _READY).exists():
        return python
    with _locked(cache / f"{spec.key()}.lock"):
        if (target / _READY).exists():
            return python
        building = cache / f"{spec.key()}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        try:
            _build(spec, building, log)
            shutil.rmtree(target, ignore_errors=True)
            building.rename(target)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        # Console scripts keep the build folder in their shebangs; only `bin/python` (which
        # finds its environment from its own location) is ever run from here on.
        (target / _READY).write_text(json.dumps({"requirements": list(spec.requirements)}))
    return python


def _run(argv: Sequence[str], log: Callable[[str], None]) -> None:
    log(f"$ {' '.join(argv)}")
    process = subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    for line in (process.stdout + process.stderr).splitlines():
        log(line)
    if process.returncode != 0:
        raise AirflowException(f"{argv[0]} {argv[1]} failed with exit code {process.returncode}")


def _build(spec: VirtualenvSpec, folder: Path, log: Callable[[str], None]) -> None:
    log(f"Creating the virtual environment {folder.name} for {list(spec.requirements)}")
    argv = [spec.python, "-m", "venv", str(folder)]
    if spec.system_site_packages:
        argv.append("--system-site-packages")
    _run(argv, log)
    if not spec.requirements:
        return
    python = str(folder / "bin" / "python")
    indexes: list[str] = []
    for position, url in enumerate(spec.index_urls):
        indexes += ["--index-url" if position == 0 else "--extra-index-url", url]
    install = [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    _run([*install, *indexes, *spec.pip_install_options, *spec.requirements], log)
