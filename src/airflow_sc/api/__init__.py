"""The HTTP API: Airflow-compatible REST API v2 (FastAPI on Starlette), served by hypercorn.

Conventions for route modules (follow them for every new resource):

- One module per resource under `api/routes/` (`dags.py`, `pools.py`, ...), each with a
  `router = APIRouter()`; add it to `api.routes.ROUTERS`. Paths are written without the
  `/api/v2` prefix (the app adds it) and match Airflow 3's spelling exactly.
- Pydantic request/response models live in `api/schemas/<resource>.py`, named as in
  Airflow's OpenAPI document (`DAGResponse`, `PoolCollectionResponse`, ...), with the same
  field names. Bodies forbid unknown fields where Airflow's do (`extra="forbid"`).
- Every route is `async def` and declares exactly one permission:
  `dependencies=[Depends(requires(Permission.X))]`, or a parameter
  `caller: Annotated[AccessToken, Depends(requires(Permission.X))]` when it needs the
  caller's name. Only `/monitor/health` and `/version` are public; a test walks the
  OpenAPI document and fails on any route without one. Every dependency is `async def`
  too: FastAPI runs plain `def` dependencies in a thread pool, and the request path has none.
- The `ApiContext` comes in as `ctx: Ctx` (`api.context`): `ctx.db` (the database port),
  `ctx.clock()` (the current time; tests inject one), `ctx.settings`, `ctx.cipher`,
  `ctx.masker`, `ctx.shutdown`.
- SQL lives in `db/queries/api_<resource>.py` (only `db/` imports SQLAlchemy); a route calls
  one query function per request, which runs one `db.run(...)` transaction.
- Errors: `raise HTTPException(status, detail)` with Airflow's wording (404 for unknown ids,
  409 for conflicts, 400 for bad combinations). Request validation gives 422. Database
  busy/unreachable becomes 503 + `Retry-After` in `api.errors` (never a 500); a route does
  not catch database errors itself. Declare documented errors with
  `responses=error_responses(404, ...)` (401 and 403 are always added).
- Lists take their query as one model, `query: Annotated[XListQuery, Query()]`, extending
  `listing.ListQuery` (`limit`, `offset`; `order_by = order_by_param(KEYS, default)` with
  the attributes Airflow's document lists; text filters as `pattern_param` /
  `prefix_pattern_param` pairs), pass `query.listing(KEYS)` and `query.name_pattern(...)`
  to the query function, and answer `{"<items>": [...], "total_entries": page.total}`.
  The vocabulary and its meanings are `airflow_sc.domain.listing`'s; never filter, order
  or page a list any other way.
- Writes go through `airflow_sc.actions` where an action exists (pause, trigger, clear,
  mark), so the API and the CLI change state the same way and wake the scheduler.
- Writes call `ctx.wake` through the action (`actions.set_dag_paused(..., wake=ctx.wake)`).
- Tests: `tests/api/conftest.py` serves the app on a real socket: `api_server` (`.url`,
  `.db`, `.ctx`, `.clock` (a `FakeClock`), `.token(Role.X)`, `.headers(Role.X)`) and
  `client` (httpx, authenticated as admin). Mark contract modules with
  `ONE_BACKEND_PER_DATABASE` (PostgreSQL on asyncio, SQLite on trio) to keep the suite
  fast; `test_permissions.py` walks every operation, so a new route must declare its
  permission or that test fails.
- Not on the event loop's critical path but off it by design: password hashing (scrypt,
  `POST /auth/token`) and reading DAG source files (`anyio.Path`) run in worker threads;
  database access never does beyond what the `Database` port itself chooses.
"""

from airflow_sc.api.app import ApiContext, create_app
from airflow_sc.api.context import prepare_context
from airflow_sc.api.service import serve_api

__all__ = ["ApiContext", "create_app", "prepare_context", "serve_api"]
