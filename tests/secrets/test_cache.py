"""The cache: one backend call per key under concurrency, TTLs on an injected clock."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from airflow_sc.secrets import Connection, InMemoryBackend, SecretsCache

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class GatedBackend(InMemoryBackend):
    """Holds every lookup until `release` is set; tracks how many run at once."""

    def __init__(self, **kwargs: dict[str, str]) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.release = anyio.Event()
        self.running = 0
        self.started = 0
        self.most_running = 0
        self.failures: list[Exception] = []

    async def get_variable(self, key: str) -> str | None:
        self.started += 1
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.release.wait()
            if self.failures:
                raise self.failures.pop()
            return await super().get_variable(key)
        finally:
            self.running -= 1


async def _wait_until_running(backend: GatedBackend, count: int) -> None:
    with anyio.fail_after(5):
        while backend.running < count:
            await anyio.lowlevel.checkpoint()


async def test_100_concurrent_lookups_of_one_key_make_one_backend_call() -> None:
    backend = GatedBackend(variables={"k": "v"})
    cache = SecretsCache(backend)
    results: list[str | None] = []

    async def lookup() -> None:
        results.append(await cache.get_variable("k"))

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(lookup)
        await _wait_until_running(backend, 1)
        backend.release.set()
    assert results == ["v"] * 100
    assert backend.calls["variable", "k"] == 1
    assert cache.statistics().lookups == 1


async def test_different_keys_are_looked_up_concurrently_once_each() -> None:
    backend = GatedBackend(variables={f"k{i}": str(i) for i in range(10)})
    cache = SecretsCache(backend)
    results: dict[int, list[str | None]] = {i: [] for i in range(10)}

    async def lookup(i: int) -> None:
        results[i].append(await cache.get_variable(f"k{i}"))

    async with anyio.create_task_group() as tg:
        for n in range(100):
            tg.start_soon(lookup, n % 10)
        await _wait_until_running(backend, 10)  # all ten keys in flight at once
        backend.release.set()
    assert results == {i: [str(i)] * 10 for i in range(10)}
    assert backend.most_running == 10
    assert all(backend.calls["variable", f"k{i}"] == 1 for i in range(10))


async def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    backend = InMemoryBackend(connections={"c": Connection(conn_id="c", host="old")})
    cache = SecretsCache(backend, ttl=60, clock=clock)
    assert (await cache.get_connection("c")) == Connection(conn_id="c", host="old")
    backend.connections["c"] = Connection(conn_id="c", host="new")
    clock.now += 59.9
    hit = await cache.get_connection("c")
    assert hit is not None
    assert hit.host == "old"
    clock.now += 0.2
    fresh = await cache.get_connection("c")
    assert fresh is not None
    assert fresh.host == "new"
    assert backend.calls["connection", "c"] == 2


async def test_absent_keys_are_cached_briefly_and_boundedly() -> None:
    clock = FakeClock()
    backend = InMemoryBackend()
    cache = SecretsCache(backend, negative_ttl=5, max_negative=3, clock=clock)
    for key in ("a", "a", "b", "c"):
        assert await cache.get_variable(key) is None
    assert backend.calls["variable", "a"] == 1
    await cache.get_variable("d")  # a fourth absent key pushes out the least recent ("a")
    assert cache.statistics().negative_entries == 3
    await cache.get_variable("a")
    assert backend.calls["variable", "a"] == 2
    backend.variables["b"] = "now here"
    clock.now += 5.1
    assert await cache.get_variable("b") == "now here"


async def test_an_error_reaches_every_waiter_and_is_not_cached() -> None:
    backend = GatedBackend(variables={"k": "v"})
    backend.failures.append(RuntimeError("backend down"))
    cache = SecretsCache(backend)
    errors: list[str] = []

    async def lookup() -> None:
        try:
            await cache.get_variable("k")
        except RuntimeError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(lookup)
        await _wait_until_running(backend, 1)
        backend.release.set()
    assert errors == ["backend down"] * 5
    assert await cache.get_variable("k") == "v"
    assert backend.started == 2


async def test_when_the_leading_caller_is_cancelled_a_waiter_takes_over() -> None:
    backend = GatedBackend(variables={"k": "v"})
    cache = SecretsCache(backend)
    results: list[str | None] = []

    async def waiter() -> None:
        results.append(await cache.get_variable("k"))

    leader_scope = anyio.CancelScope()

    async def leader() -> None:
        with leader_scope:
            await cache.get_variable("k")

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await _wait_until_running(backend, 1)
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        leader_scope.cancel()
        await anyio.wait_all_tasks_blocked()
        await _wait_until_running(backend, 1)
        backend.release.set()
    assert results == ["v"]
    assert backend.started == 2


async def test_invalidate_makes_the_next_read_fresh() -> None:
    backend = InMemoryBackend(variables={"k": "1"})
    cache = SecretsCache(backend)
    assert await cache.get_variable("k") == "1"
    backend.variables["k"] = "2"
    cache.invalidate("variable", "k")
    assert await cache.get_variable("k") == "2"
