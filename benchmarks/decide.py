"""Real-time decisions under load (issue 21): `POST /v1/decide` of `mercator serve` on loopback,
with 10 arms, eligibility rules, frequency caps, consent and the decision log on, at 16
connections; side by side with the issue's anchor, a minimal Starlette + orjson endpoint that
draws a Thompson sample over 10 arms and logs nothing.

Run: .venv/bin/python benchmarks/decide.py [--seconds 20] (needs wrk: `make bench` installs it).
Prints one JSON line per server: requests per second, p50 and p99 latency, the ratio to the
anchor, and for Mercator the decisions found in its log afterwards (they must equal the
answers wrk counted).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from api import _port, _wait  # the loopback helpers of the API benchmark

ANCHOR_APP = """
import numpy as np, orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
rng = np.random.default_rng(0)
a, b = np.ones(10), np.ones(10)
async def decide(request):
    body = orjson.loads(await request.body())
    arm = int(rng.beta(a, b).argmax())
    return Response(orjson.dumps({"arm": arm, "person": body.get("person_id")}), media_type="application/json")
app = Starlette(routes=[Route("/v1/decide", decide, methods=["POST"])])
"""

POLICY = """
policy: hero
bandit: thompson
floor: 0.01
context: [device, country, hour, segment]
purpose: personalization
default: generic
caps:
  - {scope: arm, max: 3, window: 1d}
  - {scope: campaign, max: 6, window: 7d}
arms:
  - {id: summer_mobile, campaign: summer, when: {device: [mobile], hour: [8, 22]}}
  - {id: summer_desktop, campaign: summer, when: {device: [desktop]}}
  - {id: winter_us, campaign: winter, when: {country: [US, GB]}}
  - {id: winter_eu, campaign: winter, when: {country: [DE, FR]}}
  - {id: club_vip, campaign: club, when: {segment: [vip, loyal]}}
  - {id: club_new, campaign: club, when: {segment: [new]}}
  - {id: night_owl, when: {hour: [0, 6]}}
  - {id: weekend}
  - {id: bundle}
  - {id: generic}
"""

LUA = """
local bodies = {}
math.randomseed(7)
local devices = {"mobile", "desktop", "tablet"}
local countries = {"US", "GB", "DE", "FR"}
local segments = {"new", "loyal", "lapsed", "vip"}
for i = 1, 5000 do
  bodies[i] = string.format('{"policy":"hero","person_id":"c%d","context":{"device":"%s","country":"%s",' ..
    '"hour":%d,"segment":"%s"}}', math.random(0, 99999), devices[math.random(1, 3)], countries[math.random(1, 4)],
    math.random(0, 23), segments[math.random(1, 4)])
end
local n = 0
request = function()
  n = n % 5000 + 1
  return wrk.format("POST", "/v1/decide", {["Content-Type"] = "application/json"}, bodies[n])
end
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_post(url: str, script: Path, seconds: int, connections: int = 16) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         check=True, capture_output=True, text=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": round(_ms(lat["50"]), 2), "p99_ms": round(_ms(lat["99"]), 2),
            "requests": total, "non_2xx": int(errors.group(1)) if errors else 0}


def _workspace(folder: Path) -> str:
    """A workspace with 100,000 customers (70% consenting to personalization) and the policy."""
    from mercator import Workspace
    from mercator.decide import save_policy
    from mercator.ingest import ingest

    path = str(folder / "decide.duckdb")
    ws = Workspace(path)
    lines = ["customer_id,consent_personalization"] + [f"c{i},{'true' if i % 10 < 7 else 'false'}"
                                                     for i in range(100_000)]
    (folder / "customers.csv").write_text("\n".join(lines) + "\n")
    ingest(ws, folder / "customers.csv", table="customers")
    save_policy(ws, POLICY, author="benchmark", reason="load test")
    ws.close()
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run `make bench` (it installs it) or apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="mercator-decide-bench-"))
    script = folder / "decide.lua"
    script.write_text(LUA)
    path = _workspace(folder)
    procs = []
    try:
        anchor_port = _port()
        (folder / "anchor_app.py").write_text(ANCHOR_APP)
        anchor = subprocess.Popen([sys.executable, "-m", "uvicorn", "anchor_app:app", "--port", str(anchor_port),
                                   "--log-level", "warning", "--app-dir", str(folder)], stderr=subprocess.PIPE,
                                  text=True)
        procs.append(anchor)
        _wait_post(f"http://127.0.0.1:{anchor_port}/v1/decide", anchor)
        reference = wrk_post(f"http://127.0.0.1:{anchor_port}/v1/decide", script, args.seconds)
        print(json.dumps({"server": "anchor: Starlette + orjson Thompson, no rules, no log", **reference}),
              flush=True)
        port = _port()
        # the load comes from one address, as from many users: no per-caller limit (it guards, not measures)
        serve = subprocess.Popen([sys.executable, "-m", "mercator.interfaces.cli", "serve", "--port", str(port),
                                  "--workspace", path, "--rate-limit", "0"], stderr=subprocess.PIPE, text=True)
        procs.append(serve)
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/healthz", serve)
        _wait_post(f"{base}/v1/decide", serve)  # one decision before the load
        r = wrk_post(f"{base}/v1/decide", script, args.seconds)
        serve.terminate()  # shutdown hands the log to the workspace
        serve.wait(120)
        procs.remove(serve)
        from mercator import Workspace

        with Workspace(path, read_only=True) as ws:
            logged = ws.count("decisions")
        print(json.dumps({"server": "mercator serve: POST /v1/decide (10 arms, rules, caps, consent, log)", **r,
                          "throughput_vs_anchor": round(r["requests_per_second"] / reference["requests_per_second"],
                                                        3),
                          "decisions_logged": logged, "answered": r["requests"] - r["non_2xx"] + 1}), flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def _wait_post(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    body = {"policy": "hero", "person_id": "c1", "context": {"device": "mobile"}}
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.post(url, json=body, timeout=2).raise_for_status()
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {proc.stderr.read() if proc.stderr else ''}") from None
            time.sleep(0.2)


if __name__ == "__main__":
    main()
