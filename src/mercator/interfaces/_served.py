"""Where a running ``mercator serve`` announces itself, and how the command line sends a load
through it (the rule in docs/api.md: while a server runs, loads go through it, so its reads
stay available).

A server over a DuckDB workspace writes ``<workspace>.serve.json`` (its process id and
address) when it starts and removes it when it stops; a file left by a server that died is
ignored (its process is gone).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from mercator.errors import BadParameter, MercatorError, WorkspaceBusyError


class ServerJobFailed(MercatorError):
    """A job sent to a running server failed; the message is the server's problem detail."""


def _announcement(workspace: str) -> Path | None:
    if workspace.startswith("spark"):
        return None
    path = Path(workspace.removeprefix("duckdb://")).resolve()
    return path.with_name(path.name + ".serve.json")


@contextlib.contextmanager
def announced(workspace: str, url: str) -> Iterator[None]:
    """Tell command-line processes on this machine that a server at ``url`` holds ``workspace``."""
    file = _announcement(workspace)
    if file is not None:
        file.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    try:
        yield
    finally:
        if file is not None:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(file.read_text(encoding="utf-8")).get("pid") == os.getpid():
                    file.unlink()


def running_server(workspace: str) -> str | None:
    """The address of the live server over ``workspace``, if one announced itself."""
    file = _announcement(workspace)
    if file is None or not file.exists():
        return None
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)  # raises if the process is gone
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["url"])


#: The access token the command line sends to a server that asks for one (docs/governance.md, "Access").
ENV_TOKEN = "MERCATOR_TOKEN"


def _call(url: str, method: str = "GET", body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if os.environ.get(ENV_TOKEN):
        headers["Authorization"] = f"Bearer {os.environ[ENV_TOKEN]}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # the announced server
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail") or str(exc)
        except ValueError:
            detail = str(exc)
        if exc.code in (401, 403):
            detail += (f"; set {ENV_TOKEN} to an analyst's (or admin's) token" if not os.environ.get(ENV_TOKEN)
                       else f" ({ENV_TOKEN} holds a token the server does not accept for this)")
        raise (WorkspaceBusyError if exc.code == 503 else BadParameter)(f"the server at {url} refused: {detail}") \
            from None
    except (urllib.error.URLError, OSError) as exc:
        raise WorkspaceBusyError(f"the server announced at {url} does not answer ({exc}); stop it or remove its "
                                 ".serve.json file") from None


def run_job(base: str, route: str, body: dict, progress: Callable[[str, int | None, int | None], None] | None = None,
            poll: float = 0.3) -> dict:
    """POST ``body`` to the job route ``route`` of the server at ``base``, follow the job and
    return its result document (the result's ``to_dict()``)."""
    job = _call(base + route, "POST", body)
    while job["status"] in ("queued", "running"):
        time.sleep(poll)
        job = _call(f"{base}/v1/jobs/{job['id']}")
        step = job.get("progress")
        if progress is not None and step:
            progress(step["step"], step.get("done"), step.get("total"))
    if job["status"] != "done":
        problem = job.get("problem") or {}
        raise ServerJobFailed(f"the job {job['id']} at {base} {job['status']}: {problem.get('detail', 'no detail')}")
    return job["result"]
