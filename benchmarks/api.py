"""The REST API under load (issue 19): `mercator serve` on loopback, cached read routes (the
explore result of the demo workspace, a 420 KB document, and the table inventory, 2 KB) and
/healthz at 16 connections, side by side with the floor of the same stack (a minimal FastAPI
app under uvicorn returning a constant document).

Run: .venv/bin/python benchmarks/api.py [--workspace demo/mercator-demo.duckdb] [--seconds 10]
(needs wrk: `make bench` installs it; `make demo` builds the workspace). Prints one JSON line
per route: requests per second, p50 and p99 latency, and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

FLOOR_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/constant")
async def constant() -> dict:
    return {"kind": "constant", "findings": [], "tables": {}}
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {proc.stderr.read() if proc.stderr else ''}") from None
            time.sleep(0.2)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int, connections: int = 16) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url], check=True,
                         capture_output=True, text=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": round(_ms(lat["50"]), 2), "p99_ms": round(_ms(lat["99"]), 2),
            "non_2xx": int(errors.group(1)) if errors else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", default="demo/mercator-demo.duckdb")
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run `make bench` (it installs it) or apt-get install wrk")
    if not Path(args.workspace).exists():
        raise SystemExit(f"{args.workspace} does not exist: run `make demo` first")
    procs = []
    try:
        port = _port()
        serve = subprocess.Popen([sys.executable, "-m", "mercator.interfaces.cli", "serve", "--port", str(port),
                                  "--workspace", args.workspace], stderr=subprocess.PIPE, text=True)
        procs.append(serve)
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/healthz", serve)
        t0 = time.perf_counter()
        httpx.get(f"{base}/v1/explore", timeout=600).raise_for_status()  # the first call computes and caches
        first = time.perf_counter() - t0
        floor_port = _port()
        floor_file = Path("benchmarks/.data/floor_app.py")
        floor_file.parent.mkdir(parents=True, exist_ok=True)
        floor_file.write_text(FLOOR_APP)
        floor = subprocess.Popen([sys.executable, "-m", "uvicorn", "floor_app:app", "--port", str(floor_port),
                                  "--log-level", "warning", "--app-dir", str(floor_file.parent)],
                                 stderr=subprocess.PIPE, text=True)
        procs.append(floor)
        _wait(f"http://127.0.0.1:{floor_port}/constant", floor)
        reference = wrk(f"http://127.0.0.1:{floor_port}/constant", args.seconds)
        print(json.dumps({"route": "floor: minimal FastAPI + uvicorn", **reference}), flush=True)
        for route in ("/v1/explore", "/v1/tables", "/healthz"):
            httpx.get(base + route, timeout=600).raise_for_status()  # computed and cached before the load
            r = wrk(base + route, args.seconds)
            size = len(httpx.get(base + route, timeout=60).content)
            print(json.dumps({"route": route, "bytes": size, **r, "throughput_vs_floor": round(
                r["requests_per_second"] / reference["requests_per_second"], 3),
                **({"first_call_seconds": round(first, 2)} if route == "/v1/explore" else {})}), flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    main()
