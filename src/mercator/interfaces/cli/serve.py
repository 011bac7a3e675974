"""The serve command: the REST API under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces.cli._common import _STATE, WorkspaceOpt, app, err


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")]
          = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 8000,
          jobs: Annotated[int, typer.Option("--jobs", help="Background jobs run at once.", min=1)] = 1,
          ingest_root: Annotated[Path | None, typer.Option(
              "--ingest-root", help="Loads through the API (POST /v1/ingest) read files inside this folder only "
              "(default: the current folder).")] = None,
          monitor_interval: Annotated[float, typer.Option(
              "--monitor-interval", help="Seconds between checks for alert rules that are due (each rule runs "
              "at its own interval; 0: never).", min=0)] = 60.0,
          refresh_interval: Annotated[float, typer.Option(
              "--refresh-interval", help="Seconds between checks for dashboard pages the data has changed under "
              "(recomputed in the background; 0: never, leave it to `mercator dashboard refresh`).", min=0)] = 60.0,
          triggers: Annotated[Path | None, typer.Option(
              "--triggers", help="Run decide's triggers from this YAML file on a schedule (as `mercator decide "
              "triggers` does once).", exists=True, dir_okay=False)] = None,
          trigger_interval: Annotated[float, typer.Option(
              "--trigger-interval", help="Seconds between runs of the triggers.", min=1)] = 300.0,
          rate_limit: Annotated[float, typer.Option(
              "--rate-limit", help="The most decisions and feedbacks a second per caller (token or address); "
              "beyond, 429 with Retry-After. 0: no limit.", min=0)] = 1000.0,
          workspace: WorkspaceOpt = None) -> None:
    """Serve the REST API (docs at /docs, OpenAPI at /openapi.json) over the workspace. While it
    runs, `mercator ingest` on this machine loads through it, so its reads stay available."""
    import uvicorn

    from mercator.interfaces.api import create_app

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # as this machine reaches it
    api = create_app(workspace, max_jobs=jobs, wait=min(_STATE["wait"], 10.0), ingest_root=ingest_root, url=url,
                     monitor_interval=monitor_interval, refresh_interval=refresh_interval, triggers=triggers,
                     trigger_interval=trigger_interval, rate_limit=rate_limit)
    err.print(f"Mercator API on http://{host}:{port} (docs: /docs) over {api.state.server.workspace}",
              highlight=False)
    uvicorn.run(api, host=host, port=port, log_level="warning")
