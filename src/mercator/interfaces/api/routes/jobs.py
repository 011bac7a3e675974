"""Background jobs: status, progress and result; cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mercator.interfaces.api.routes._common import jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("")
def list_jobs(request: Request) -> list[dict]:
    """Every job the server knows, newest first (without results)."""
    return jobs(request).list()


@router.get("/{job_id}")
def get_job(request: Request, job_id: str) -> dict:
    """A job's status (queued, running, done, failed, cancelled), progress and, when done, its
    result: the ``to_dict()`` the command line's ``--json`` prints; when failed, a problem document."""
    return jobs(request).get(job_id)


@router.delete("/{job_id}")
def cancel_job(request: Request, job_id: str) -> dict:
    """Cancel a queued or running job (its process is ended; its writes roll back)."""
    return jobs(request).cancel(job_id)
