"""The web UI: server-rendered pages (Jinja2, autoescaped) and a little of our own
JavaScript, served by the same app and process as the REST API (`create_web_app`).

Conventions:

- One module per page family (`dag_list.py`, `signin.py`, ...), each with a
  `router = APIRouter(include_in_schema=False)`, listed in `app.ROUTERS`.
- A page declares its permission as a dependency, `Depends(page_requires(Permission.X))`,
  the same permissions as the API's routes; it reads through the API's query functions
  (`db/queries/api_*.py`) and writes through `airflow_sc.actions`.
- Every state-changing route is a POST that reads its form with `access.checked_form`
  (the session's CSRF token) and answers with a redirect (303) or a page.
- Templates live in `templates/`, static files in `static/` (shipped in the wheel); every
  response carries `rendering.SECURITY_HEADERS` (Content-Security-Policy: own scripts only).
"""

from airflow_sc.ui.app import create_web_app

__all__ = ["create_web_app"]
