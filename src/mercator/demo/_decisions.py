"""What the demo company decided (issue 21): a homepage banner policy that ran for the last
weeks of the data, learning by Thompson sampling without context, and its log.

Planted: each device has its own best arm (mobile: bundle_deal, desktop: new_arrivals,
tablet: free_shipping), so a policy that sees the device would earn more than the one that ran;
off-policy evaluation of a contextual candidate should say so. Drawn from its own random stream,
so every other table stays as it was. Decisions for people without consent to personalization
are logged as the default with the reason, as the server does.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import yaml

ARMS = ("free_shipping", "new_arrivals", "bundle_deal", "loyalty_points", "generic")
#: purchase rate after the banner, per device and arm
RATES = {"desktop": (0.040, 0.085, 0.045, 0.050, 0.030),
         "mobile": (0.050, 0.040, 0.090, 0.045, 0.030),
         "tablet": (0.075, 0.045, 0.040, 0.050, 0.030)}
FLOOR = 0.05
POLICY = {"policy": "homepage_hero", "bandit": "thompson", "floor": FLOOR, "context": ["device"],
          "purpose": "personalization", "default": "generic", "attribution_window": "1d",
          "arms": [{"id": a} for a in ARMS]}


def decision_log(rng: np.random.Generator, customers: np.ndarray, device: np.ndarray, consent: np.ndarray,
                 end: dt.date, days: int, per_day: int) -> tuple[dict[str, pa.Table], dict]:
    """``days`` days up to ``end`` of ``per_day`` banner decisions for random customers, with the
    policy learning from each day's rewards overnight; the tables and the truth."""
    from mercator.decide._bandits import Bandit

    bandit = Bandit("thompson", list(ARMS))
    rates = np.array([RATES[d] for d in device])
    rows = []
    start = dt.datetime.combine(end - dt.timedelta(days=days), dt.time())
    day0 = np.datetime64(start, "s")
    for day in range(days):
        who = rng.integers(0, len(customers), per_day)
        p = bandit.probabilities(floor=FLOOR)
        arm = np.minimum(np.searchsorted(np.cumsum(p), rng.random(per_day) * p.sum(), side="right"), len(ARMS) - 1)
        ok = consent[who]
        arm = np.where(ok, arm, len(ARMS) - 1)  # without consent: the default, generic
        won = rng.random(per_day) < rates[who, arm]
        ts = day0 + np.timedelta64(day * 86400, "s") + np.sort(rng.uniform(0, 86400, per_day)).astype("timedelta64[s]")
        rows.append({"ts": ts, "who": who, "arm": arm, "propensity": np.where(ok, p[arm], 1.0), "ok": ok, "won": won})
        bandit.update(arm[ok], won[ok].astype(float))
    ts = np.concatenate([r["ts"] for r in rows]).astype("datetime64[us]")
    who = np.concatenate([r["who"] for r in rows])
    arm = np.concatenate([r["arm"] for r in rows])
    ok = np.concatenate([r["ok"] for r in rows])
    won = np.concatenate([r["won"] for r in rows])
    n = len(ts)
    ids = np.char.add("dec", np.char.zfill(np.arange(n).astype(str), 7))
    contexts = np.array([json.dumps({"device": d}, separators=(",", ":")) for d in device[who]])
    decisions = pa.table({
        "decision_id": ids, "ts": pa.array(ts), "kind": np.full(n, "action"), "person_id": customers[who],
        "policy": np.full(n, "homepage_hero"), "policy_version": np.ones(n, np.int64), "context": contexts,
        "eligible": np.where(ok, ",".join(ARMS), ""), "arm": np.array(ARMS)[arm],
        "propensity": np.concatenate([r["propensity"] for r in rows]),
        "fallback_reason": pa.array(np.where(ok, None, "no consent to personalization: the default"), pa.string()),
    })
    won_ts = ts[won] + (rng.uniform(60, 3 * 3600, won.sum()) * 1e6).astype("timedelta64[us]")
    reward_table = pa.table({"decision_id": ids[won], "ts": pa.array(won_ts), "reward": np.ones(won.sum())})
    policies = pa.table({"policy": ["homepage_hero"], "version": [1], "spec": [yaml.safe_dump({**POLICY,
                                                                                               "version": 1})],
                         "status": ["live"], "author": ["demo"], "reason": ["the banner test of the demo company"],
                         "created_at": pa.array([start], pa.timestamp("us"))})
    overall = rates[:, :][who[ok]].mean(axis=0)
    truth = {"policy": "homepage_hero", "arms": list(ARMS), "rates_by_device": RATES,
             "best_by_device": {d: ARMS[int(np.argmax(r))] for d, r in RATES.items()},
             "best_overall": ARMS[int(np.argmax(overall))], "decisions": int(n), "rewards": int(won.sum()),
             "days": days, "floor": FLOOR}
    return {"policies": policies, "decisions": decisions, "rewards": reward_table}, truth
