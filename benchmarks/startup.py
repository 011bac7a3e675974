"""Start-up time of the command line (issue 19, item 7): `mercator --help` and `mercator
version`, side by side with the interpreter's own floor (`python -c pass`) and with importing
the analyses the old way (`python -c "import mercator.explore"`), 20 runs each.

Run: .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], runs: int = 20) -> dict:
    seconds = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - t)
    seconds.sort()
    return {"median_s": round(statistics.median(seconds), 3), "p90_s": round(seconds[int(0.9 * runs) - 1], 3)}


def main() -> None:
    exe = shutil.which("mercator") or str(__import__("pathlib").Path(sys.executable).with_name("mercator"))
    floor = timed([sys.executable, "-c", "pass"])
    print(json.dumps({"command": "python -c pass (floor)", **floor}))
    for name, cmd in (("mercator --help", [exe, "--help"]), ("mercator version", [exe, "version"]),
                      ("python -c 'import mercator.explore'", [sys.executable, "-c", "import mercator.explore"])):
        r = timed(cmd)
        print(json.dumps({"command": name, **r, "over_floor_s": round(r["median_s"] - floor["median_s"], 3)}))


if __name__ == "__main__":
    main()
