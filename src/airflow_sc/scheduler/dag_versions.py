"""DAG versions as the scheduler reads them: serialized data -> `DagSpec`, cached by id.

A version row never changes once written, so a spec parsed once serves every later pass.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

from airflow_sc.db import Transaction
from airflow_sc.db.queries import scheduling
from airflow_sc.serialization.spec import DagSpec

__all__ = ["DagVersions"]


class DagVersions:
    """A bounded cache of parsed DAG versions."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._specs: OrderedDict[str, DagSpec] = OrderedDict()

    def _remember(self, version_id: str, spec: DagSpec) -> None:
        self._specs[version_id] = spec
        self._specs.move_to_end(version_id)
        while len(self._specs) > self._capacity:
            self._specs.popitem(last=False)

    async def get(self, tx: Transaction, version_ids: Collection[str | None]) -> dict[str, DagSpec]:
        """Specs of these versions (unknown or None ids are left out)."""
        wanted = {v for v in version_ids if v is not None}
        missing = wanted - self._specs.keys()
        if missing:
            for version_id, data in (await scheduling.version_data(tx, missing)).items():
                self._remember(version_id, DagSpec.from_dict(data))
        return {v: self._specs[v] for v in wanted if v in self._specs}

    async def latest(
        self, tx: Transaction, dag_ids: Collection[str]
    ) -> dict[str, tuple[str, DagSpec]]:
        """Newest version of each DAG: dag_id -> (version id, spec)."""
        ids = await scheduling.latest_version_ids(tx, dag_ids)
        specs = await self.get(tx, ids.values())
        return {d: (v, specs[v]) for d, v in ids.items() if v in specs}
