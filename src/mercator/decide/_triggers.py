"""Triggers: rules on customer scores and events that emit an action (a webhook call, rows of an
audience file, or a decision of a live policy), each at most once per person per window,
through the consent filter and a cap per person over all triggers.

A rules file (YAML, or the same as a dict)::

    cap: {max: 2, window: 7d}            # per person, over every trigger (optional)
    triggers:
      - name: churn_risk
        when: {score: models/churn.mercator-target, above: 0.7}   # a saved target model
        purpose: marketing_email                                  # the consent it needs
        window: 30d                                               # once per person per window
        action: {webhook: https://hooks.example.com/churn}
      - name: lapsing
        when: {p_alive_below: 0.3}                                # BG/NBD on the orders
        action: {audience: audiences/lapsing.csv}
      - name: cart
        when: {cart_abandoned: 24h, lookback: 7d}                 # add_to_cart, no purchase after
        action: {decide: cart_reminder}                           # a live policy chooses the content
      - name: welcome
        when: {first_purchase: 7d}                                # first order in the last 7 days

Every firing is a row of the ``decisions`` table (policy ``trigger:<name>``, the action as the
arm, the condition's value as the context), so the log of decisions and actions is one, and
the once-per-window and cap rules are anti-joins on it in the engine. A failed webhook is
retried (3 tries, backing off on 429 and 5xx) and its people are not logged, so the next run
tries them again; the result counts them with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ibis
import pandas as pd

from mercator._periodic import Periodic
from mercator.decide._policy import Decider, spec_dict
from mercator.decide._policy import _window as duration
from mercator.errors import BadParameter, MercatorError
from mercator.results import Finding, Result

CONDITIONS = ("score", "p_alive_below", "cart_abandoned", "first_purchase")
ACTIONS = ("webhook", "audience", "decide")
_BATCH = 500


@dataclass(frozen=True)
class Trigger:
    name: str
    kind: str
    params: dict
    purpose: str | None
    window_s: float
    action: str
    target: str


@dataclass(frozen=True)
class TriggerRules:
    triggers: tuple[Trigger, ...]
    cap: tuple[int, float] | None  # (max firings, window in seconds) per person over all triggers


def parse_triggers(spec) -> TriggerRules:
    """Check a rules file (path, YAML text or dict); every problem named where it is."""
    data = spec_dict(spec)
    if not isinstance(data, dict) or not isinstance(data.get("triggers"), list) or not data["triggers"]:
        raise BadParameter("triggers: expected a mapping with a list of triggers")
    cap = None
    if data.get("cap") is not None:
        c = data["cap"]
        if not isinstance(c, dict) or not isinstance(c.get("max"), int) or c["max"] < 1:
            raise BadParameter("cap: expected {max: N, window: 7d} with N at least 1")
        cap = (int(c["max"]), duration(c.get("window", "1d"), "cap"))
    out, names = [], set()
    for i, t in enumerate(data["triggers"]):
        where = f"triggers[{i}]"
        if not isinstance(t, dict) or not t.get("name"):
            raise BadParameter(f"{where}: a trigger needs a name")
        name = str(t["name"])
        where = f"trigger {name}"
        if name in names:
            raise BadParameter(f"{where}: the name is used twice")
        names.add(name)
        when = t.get("when")
        kinds = [k for k in CONDITIONS if isinstance(when, dict) and k in when]
        if len(kinds) != 1:
            raise BadParameter(f"{where}: when needs exactly one of {', '.join(CONDITIONS)}")
        kind = kinds[0]
        params = dict(when)
        if kind == "score" and not isinstance(params.get("above"), int | float):
            raise BadParameter(f"{where}: a score condition needs above: a probability")
        if kind == "p_alive_below" and not 0 < float(params["p_alive_below"]) < 1:
            raise BadParameter(f"{where}: p_alive_below must be between 0 and 1")
        if kind == "cart_abandoned":
            params["cart_abandoned"] = duration(params["cart_abandoned"], f"{where}.when.cart_abandoned")
            params["lookback"] = duration(params.get("lookback", "7d"), f"{where}.when.lookback")
        if kind == "first_purchase":
            params["first_purchase"] = duration(params["first_purchase"], f"{where}.when.first_purchase")
        action = t.get("action")
        acts = [a for a in ACTIONS if isinstance(action, dict) and a in action]
        if len(acts) != 1 or not action[acts[0]]:
            raise BadParameter(f"{where}: action needs exactly one of {', '.join(ACTIONS)} with its target")
        out.append(Trigger(name, kind, params, t.get("purpose"), duration(t.get("window", "30d"), f"{where}.window"),
                           acts[0], str(action[acts[0]])))
    return TriggerRules(tuple(out), cap)


@dataclass(frozen=True)
class TriggerRun(Result):
    """What each trigger matched, who was left out and why, and what fired."""

    kind = "decide_triggers"
    title = "Triggers"
    headline = ("triggers",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "triggers": ("trigger", "action", "matched", "no_consent", "already_fired", "capped", "fired", "failed"),
        "fired": ("trigger", "person_id", "value", "action", "outcome")}


# -- conditions: who matches now ----------------------------------------------------------------
def _matches(ws, t: Trigger, now: dt.datetime) -> pd.DataFrame:
    """(person_id, value) of the people the condition holds for at ``now``."""
    if t.kind == "score":
        from mercator.target import customer_frame, score_frame

        feats = customer_frame(ws, now.date())
        p = score_frame(t.params["score"], feats, source=f"trigger {t.name}")
        keep = p > float(t.params["above"])
        return pd.DataFrame({"person_id": feats.customer_id.astype(str).to_numpy()[keep], "value": p[keep]})
    if t.kind == "p_alive_below":
        from mercator.clv import fit_clv

        c = fit_clv(ws, now.date()).to_frame("customers")
        c = c[c.p_alive < float(t.params["p_alive_below"])]
        return pd.DataFrame({"person_id": c.customer_id.astype(str).to_numpy(), "value": c.p_alive.to_numpy()})
    if t.kind == "first_purchase":
        o = ws.table("orders")
        since = now - dt.timedelta(seconds=t.params["first_purchase"])
        first = o.filter(o.ts <= now).group_by("customer_id").aggregate(first=o.ts.min())
        first = first.filter(first["first"] >= since)
        df = first.select(person_id=first.customer_id.cast("string"), value=first["first"]).to_pandas()
        return df.assign(value=df.value.astype(str))
    # cart abandoned: an add_to_cart in the lookback whose wait has passed with no purchase after it
    e = ws.table("events")
    wait = dt.timedelta(seconds=t.params["cart_abandoned"])
    carts = e.filter((e.event_name == "add_to_cart") & (e.ts >= now - dt.timedelta(seconds=t.params["lookback"]))
                     & (e.ts <= now - wait))
    buys = e.filter(e.event_name == "purchase").select(b_user=e.user_id, b_ts=e.ts)
    left = carts.anti_join(buys, [carts.user_id == buys.b_user, buys.b_ts >= carts.ts,
                                  buys.b_ts <= carts.ts + ibis.interval(seconds=int(t.params["cart_abandoned"]))])
    last = left.group_by("user_id").aggregate(value=left.ts.max())
    ident = ws.table("identities")
    linked = last.left_join(ident.select(i_user=ident.user_id, i_cust=ident.customer_id),
                            last.user_id == ident.user_id)
    df = linked.select(person_id=linked.i_cust.fill_null(linked.user_id).cast("string"),
                       value=linked.value).distinct().to_pandas()
    return df.drop_duplicates("person_id").assign(value=lambda d: d.value.astype(str))


def _recent(ws, policies: list[str], since: dt.datetime) -> pd.DataFrame:
    """(policy, person_id, ts) of the trigger firings logged since ``since`` (in the engine)."""
    d = ws.table("decisions")
    d = d.filter(d.policy.isin(policies) & (d.ts >= since) & d.person_id.notnull())
    return d.select("policy", "person_id", "ts").to_pandas()


# -- actions -------------------------------------------------------------------------------------
def _webhook(url: str, t: Trigger, rows: pd.DataFrame, fired_at: str) -> str | None:
    """POST the firings in batches; None on success, the reason otherwise."""
    from mercator._http import post_json

    for start in range(0, len(rows), _BATCH):
        part = rows.iloc[start:start + _BATCH]
        body = {"trigger": t.name, "fired_at": fired_at,
                "people": [{"person_id": p, "value": v, "decision_id": d}
                           for p, v, d in zip(part.person_id, part.value, part.decision_id, strict=True)]}
        reason = post_json(url, body)
        if reason:
            return reason
    return None


def _audience(path: str, t: Trigger, rows: pd.DataFrame, fired_at: str) -> None:
    from mercator.exports import write_csv

    target = Path(path)
    frame = pd.DataFrame({"person_id": rows.person_id, "trigger": t.name, "value": rows.value,
                          "fired_at": fired_at, "decision_id": rows.decision_id})
    write_csv(frame, target, append=target.exists() and target.stat().st_size > 0)


def _decide(ws, policy: str, rows: pd.DataFrame, now: float) -> list[dict]:
    """A decision of the live policy for each person (consent, eligibility and caps as served)."""
    from mercator.decide._registry import load_policy
    from mercator.decide._service import recently_shown, serving_state
    from mercator.govern import consenting

    p, status = load_policy(ws, policy)
    if status != "live":
        raise MercatorError(f"policy {policy!r} is {status}, not live")
    decider = Decider(p, consenting=consenting(ws, p.purpose) if p.purpose else None, **serving_state(ws, p))
    decider.remember(recently_shown(ws, decider, now))
    return [decider.decide(person, {}, now=now) for person in rows.person_id]


# -- a run ---------------------------------------------------------------------------------------
def run_triggers(ws, rules, *, now: dt.datetime | None = None, dry_run: bool = False) -> TriggerRun:
    """Evaluate every trigger at ``now`` (default: the current time, UTC) and fire its action for
    the people who match, consent, have not had it within its window and are under the cap.
    ``dry_run``: count and list, act on nothing and log nothing."""
    import pyarrow as pa

    from mercator.decide._log import SCHEMA, into
    from mercator.govern import eligible_frame, record_export

    rules = rules if isinstance(rules, TriggerRules) else parse_triggers(rules)
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    now = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now
    stamp = now.replace(tzinfo=dt.UTC).timestamp()
    fired_at = now.isoformat(timespec="seconds")
    names = [f"trigger:{t.name}" for t in rules.triggers]
    windows = [t.window_s for t in rules.triggers] + ([rules.cap[1]] if rules.cap else [])
    history = _recent(ws, names, now - dt.timedelta(seconds=max(windows)))
    counts = {}
    if rules.cap:
        within = history[history.ts >= now - dt.timedelta(seconds=rules.cap[1])]
        counts = within.groupby("person_id").size().to_dict()
    summary, fired, records = [], [], []
    for t in rules.triggers:
        policy = f"trigger:{t.name}"
        matched = _matches(ws, t, now)
        n_matched = len(matched)
        matched, _removed = eligible_frame(ws, matched, id_col="person_id", purpose=t.purpose)
        no_consent = n_matched - len(matched)
        mine = history[(history.policy == policy) & (history.ts >= now - dt.timedelta(seconds=t.window_s))]
        fresh = matched[~matched.person_id.isin(set(mine.person_id))]
        already = len(matched) - len(fresh)
        capped = 0
        if rules.cap:
            over = fresh.person_id.map(lambda p: counts.get(p, 0) >= rules.cap[0]).to_numpy(bool)
            capped, fresh = int(over.sum()), fresh[~over]
        fresh = fresh.assign(decision_id=[uuid.uuid4().hex for _ in range(len(fresh))],
                             value=[float(v) if isinstance(v, int | float) else str(v) for v in fresh.value])
        failed, outcome = 0, ["dry run"] * len(fresh)
        if not dry_run and len(fresh):
            if t.action == "webhook":
                reason = _webhook(t.target, t, fresh, fired_at)
                failed = len(fresh) if reason else 0
                outcome = [reason or "sent"] * len(fresh)
            elif t.action == "audience":
                _audience(t.target, t, fresh, fired_at)
                record_export(ws, t.target, what=f"audience of trigger {t.name}", rows=len(fresh), purpose=t.purpose)
                outcome = [f"written to {t.target}"] * len(fresh)
            else:
                made = _decide(ws, t.target, fresh, stamp)
                records += made
                outcome = [f"{t.target}: {d['arm']}" + (f" ({d['fallback_reason']})" if d["fallback_reason"] else "")
                           for d in made]
            if not failed:  # a failed webhook's people are not logged: the next run tries them again
                for p in fresh.person_id:
                    counts[p] = counts.get(p, 0) + 1
                records += [{"decision_id": d, "ts": int(stamp * 1e6), "person_id": p, "policy": policy,
                             "policy_version": 1, "context": json.dumps({"value": v}), "context_hash": None,
                             "eligible": t.action, "arm": t.action, "propensity": 1.0, "fallback_reason": None,
                             "latency_ms": None}
                            for d, p, v in zip(fresh.decision_id, fresh.person_id, fresh.value, strict=True)]
        summary.append({"trigger": t.name, "action": f"{t.action}: {t.target}", "matched": n_matched,
                        "no_consent": no_consent, "already_fired": already, "capped": capped,
                        "fired": len(fresh) - failed, "failed": failed})
        fired.append(fresh[["person_id", "value"]].assign(trigger=t.name, action=t.action, outcome=outcome))
    if records:
        into(ws, "decisions")(pa.Table.from_pylist(records, schema=SCHEMA))
    table = pd.DataFrame(summary)
    rows = pd.concat(fired, ignore_index=True) if fired else pd.DataFrame()
    findings = [Finding(
        ("Dry run: " if dry_run else "") + ", ".join(
            f"{r.trigger} {'would fire' if dry_run else 'fired'} for {r.fired} of {r.matched} matched"
            + (f" ({r.no_consent} without consent, {r.already_fired} already within the window"
               + (f", {r.capped} capped" if r.capped else "") + ")")
            + (f"; {r.failed} failed: {rows[rows.trigger == r.trigger].outcome.iloc[0]}" if r.failed else "")
            for r in table.itertuples()) + ".", impact=1.0)]
    return TriggerRun(tables={"triggers": table, "fired": rows}, findings=tuple(findings),
                      params={"now": fired_at, "dry_run": dry_run, "cap": list(rules.cap) if rules.cap else None})


__all__ = ["TriggerRules", "TriggerRun", "parse_triggers", "run_triggers"]


class TriggerSchedule(Periodic):
    """``mercator serve --triggers FILE``: runs the triggers every ``tick`` seconds. The file is
    read again at each run, so an edit applies from the next one; a bad edit is logged and the
    run skipped. Each trigger fires once per person per window however often it runs."""

    name = "mercator-triggers"

    def __init__(self, rules: str | Path, reading: Callable[[], AbstractContextManager],
                 writing: Callable[[], AbstractContextManager], tick: float = 300.0) -> None:
        super().__init__(reading, writing, tick)
        self.rules = Path(rules)
        parse_triggers(self.rules)  # a bad file is named before the server starts

    def step(self) -> TriggerRun:
        rules = parse_triggers(self.rules)
        with self.writing() as ws:
            result = run_triggers(ws, rules)
        self.runs += 1
        return result
