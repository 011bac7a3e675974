"""The HTML report (a background job) and the pages it writes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from mercator.errors import NotFoundError
from mercator.interfaces.api.routes._common import jobs, submit

router = APIRouter(prefix="/v1", tags=["report"])


def report_job(ws, p: dict, progress):
    from mercator.interfaces.report import write_report

    return write_report(ws, p["output"], progress=progress)


@router.post("/report", status_code=202)
def report(request: Request) -> Response:
    """Run the analyses on the workspace and write the HTML report (`mercator run`); a job.
    When it is done, the page is at ``/v1/reports/{name}`` (the result's ``params.url``)."""
    name = f"report-{uuid.uuid4().hex[:12]}.html"
    return submit(request, "report", report_job, {"output": str(jobs(request).folder / name),
                                                    "url": f"/v1/reports/{name}"})


@router.get("/reports/{name}", response_class=FileResponse)
def report_page(request: Request, name: str) -> FileResponse:
    """A report written by a report job."""
    path = jobs(request).folder / name
    if not (name.startswith("report-") and name.endswith(".html") and "/" not in name and path.is_file()):
        raise NotFoundError(f"no report {name!r}")
    return FileResponse(path, media_type="text/html")
