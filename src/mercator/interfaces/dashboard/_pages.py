"""The dashboard of ``mercator serve``: server-rendered pages (Jinja2), Plotly's JavaScript served
from the installed package (no CDN), a little plain JavaScript for the buttons, which call the
REST API with the caller's token (kept in a same-site cookie).

Pages render results and compute nothing. The analysis pages show the pipeline's step of the same
name (`mercator run`'s sections), the monitor pages monitor's results, computed ahead of the views
and stored in the workspace (``_snapshots``): a view reads its page's row. A page never computed
yet is computed on its first view; the pages of the monitor's own small tables (objectives,
alerts, health, rules, settings) are computed when viewed, so an acknowledgement shows at once.

Roles (``mercator.govern``): a viewer sees every analysis and monitor page; an analyst also
gets the buttons that act (acknowledge and silence alerts, evaluate the rules now); an admin
also sees the rules, the settings and the sign-off of objectives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mercator import __version__
from mercator.interfaces.api.routes._common import TOKEN_COOKIE, _check, caller_role, server
from mercator.interfaces.report import plotly_js
from mercator.results import Result, Unavailable

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@dataclass(frozen=True)
class Page:
    id: str
    title: str
    role: str = "viewer"
    step: str | None = None  # the pipeline step it shows
    #: computed ahead and stored (the analyses); False: computed on each change of the workspace
    #: when viewed (the monitor's own small tables, whose buttons must show their effect at once)
    stored: bool = True


PAGES = (
    Page("overview", "Overview"),
    Page("trends", "Trends and anomalies", step="what-happened"),
    Page("forecast", "Forecast", step="forecast"),
    Page("funnel", "Funnel", step="funnel"),
    Page("cohorts", "Cohorts", step="cohorts"),
    Page("segments", "Segments", step="who-segments"),
    Page("attribution", "Attribution", step="attribution"),
    Page("budget", "Budget"),
    Page("experiments", "Experiments", step="experiments"),
    Page("decisions", "Decisions", step="decided"),
    Page("objectives", "Objectives", stored=False),
    Page("alerts", "Alerts", stored=False),
    Page("health", "System health", stored=False),
    Page("rules", "Alert rules", role="admin", stored=False),
    Page("settings", "Settings", role="admin", stored=False),
)
BY_ID = {p.id: p for p in PAGES}

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("mercator.interfaces.dashboard", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]))


def _step(ws, step_id: str) -> list[Result]:
    from mercator.pipeline import STEPS, run_pipeline

    step = next(s for s in STEPS if s.id == step_id)
    return list(run_pipeline(ws, [step]).sections[0].results)


def newest_model(ws):
    """The newest saved media-mix model's file, or None."""
    from mercator.errors import NotFoundError
    from mercator.mmm import find_model

    try:
        return find_model(None if ws.location.startswith("spark") else ws.location)
    except NotFoundError:
        return None


def _budget(ws) -> list[Result]:
    """The newest saved media-mix model's optimal budget (a fit takes minutes: never on a page view)."""
    from mercator.mmm import optimize_budget

    model = newest_model(ws)
    if model is None:  # no saved model is a state of the workspace, said on the page
        return [Unavailable.because("no fitted media-mix model: run `mercator mmm fit` (or POST /v1/mmm/fit)")]
    return [optimize_budget(model)]


def _results(ws, page: Page) -> list[Result]:
    from mercator.govern import audit_trail
    from mercator.monitor import (
        early_warnings,
        list_alerts,
        list_objectives,
        list_rules,
        system_health,
    )

    if page.step is not None:
        return _step(ws, page.step)
    if page.id == "overview":
        out = _step(ws, "kpis") if ws.count("ad_performance") else []
        return [*out, early_warnings(ws) if ws.count("ad_performance") else list_objectives(ws),
                list_alerts(ws, state="firing", events=10), system_health(ws)]
    return {"budget": lambda: _budget(ws), "objectives": lambda: [list_objectives(ws)],
            "alerts": lambda: [list_alerts(ws, events=100)], "health": lambda: [system_health(ws)],
            "rules": lambda: [list_rules(ws)], "settings": lambda: [audit_trail(ws, limit=20)]}[page.id]()


def page_results(ws, page: Page) -> list[Result]:
    """What ``page`` shows, computed now."""
    from mercator.errors import MercatorError

    try:
        return _results(ws, page)
    except MercatorError as exc:  # a page the data cannot support says why
        return [Unavailable.because(str(exc))]


def _view(ws, page: Page) -> tuple[dict, dt.datetime | None, bool]:
    """The page's content, when it was computed (None: just now) and whether the data changed since."""
    from mercator.interfaces.dashboard._snapshots import data_version, page_content, stored_page

    found = stored_page(ws, page.id) if page.stored else None
    if found is None:
        return page_content(ws, page), None, False
    content, version, generated_at = found
    return content, generated_at, version != data_version(ws)


def _render(request: Request, page: Page, content: dict, role: str, computed: dt.datetime | None,
            stale: bool) -> str:
    from mercator.govern import allows

    as_of = "computed now" if computed is None else f"computed {computed:%Y-%m-%d %H:%M} UTC" + (
        " (the data has changed since: it is being recomputed)" if stale else "")
    return _ENV.get_template("page.html.j2").render(
        page=page, pages=[p for p in PAGES if allows(role, p.role)], role=role, sections=content["sections"],
        firing=content["firing"], drafts=content["drafts"], tiles=content.get("tiles", []),
        can_act=allows(role, "analyst"),
        is_admin=allows(role, "admin"), open_access=not request.app.state.tokens,
        workspace=server(request).workspace, version=__version__, as_of=as_of,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


@router.get("/static/plotly.min.js")
def plotly() -> Response:
    """Plotly's JavaScript from the installed package, cached by the browser for a day."""
    return Response(_plotly(), media_type="application/javascript", headers={"Cache-Control": "max-age=86400"})


def _plotly(cache: dict = {}) -> str:  # noqa: B006  (read once per process: 4.6 MB)
    if "js" not in cache:
        cache["js"] = plotly_js()
    return cache["js"]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None) -> str:
    return _ENV.get_template("login.html.j2").render(error=error, version=__version__)


@router.post("/login")
def login(request: Request, token: str = Form(...)) -> Response:
    from mercator.govern import role_of

    if role_of(token, request.app.state.tokens) is None:
        return RedirectResponse("/dashboard/login?error=unknown+token", status_code=303)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.get("", response_class=HTMLResponse)
@router.get("/{page_id}", response_class=HTMLResponse)
async def page(request: Request, page_id: str = "overview") -> Response:
    if caller_role(request) is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    page = BY_ID.get(page_id)
    if page is None:
        return HTMLResponse(_ENV.get_template("missing.html.j2").render(page_id=page_id), status_code=404)
    role = _check(request, page.role)  # 403 for a page above the caller's role
    key = ("dashboard", page.id)
    (content, computed, stale), _ = await run_in_threadpool(server(request).run, key, lambda ws: _view(ws, page))
    return HTMLResponse(_render(request, page, content, role, computed, stale))
