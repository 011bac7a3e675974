"""Live decisions for a server: the live policies' deciders in memory, the decision and reward
logs, learning from feedback as it comes and from the workspace's tables at start, and the
hand-over of the logs into the workspace.

The service knows nothing of HTTP; ``mercator serve`` calls it from its routes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from mercator.decide._features import hashed
from mercator.decide._log import REWARDS, DecisionLog, into, outcomes
from mercator.decide._policy import Decider, Policy
from mercator.decide._registry import live_creatives, live_policies
from mercator.errors import BadParameter, NotFoundError

log = logging.getLogger("mercator.decide")


def learn_from_log(ws, decider: Decider, now: float | None = None) -> int:
    """Teach ``decider`` what its policy's logged decisions earned: rewards joined to decisions
    and summed per arm (and context, for the linear policies) in the engine. Counted: decisions
    with a reward within the attribution window, and decisions whose window has closed (no
    reward: zero). Fallbacks are not the policy's choices and are left out. Returns the number
    of decisions learned from."""
    p = decider.policy
    rows = outcomes(ws, p.name, window_s=p.attribution_window_s, now=now)
    rows = rows.filter(rows.arm.isin(p.arm_ids))
    keys = ["arm", "context"] if decider.bandit.contextual else ["arm"]
    agg = rows.group_by(keys).aggregate(n=rows.count(), reward=rows.reward.sum()).to_pandas()
    if agg.empty:
        return 0
    index = {a: i for i, a in enumerate(p.arm_ids)}
    x = np.stack([hashed(json.loads(c or "{}")) for c in agg.context]) if decider.bandit.contextual else None
    reward = agg.reward.to_numpy(float)
    if p.bandit == "thompson":
        reward = np.minimum(reward, agg.n.to_numpy(float))  # Beta counts: at most one success a decision
    decider.bandit.absorb(agg.arm.map(index).to_numpy(), agg.n.to_numpy(float), reward, x)
    decider._version += 1
    return int(agg.n.sum())


def serving_state(ws, policy: Policy, creatives=None) -> dict:
    """What a decider needs from the workspace besides the policy: the creatives, the members of
    its suppressed segments, the products out of stock its arms name, and (bandit scores) each
    person's scores."""
    from mercator.recommend import out_of_stock

    state = {"creatives": creatives if creatives is not None else live_creatives(ws)}
    if policy.suppress:
        m = ws.table("segment_members")
        ids = m.filter(m.segment.isin(list(policy.suppress))).customer_id.cast("string")
        state["suppressed"] = frozenset(ids.to_pyarrow().to_pylist())
    if any(a.product for a in policy.arms):
        state["out_of_stock"] = out_of_stock(ws)
    if policy.scores:
        state["scores"] = read_scores(ws, policy)
    return state


def read_scores(ws, policy: Policy) -> dict[str, dict[str, float]]:
    """person -> {arm: score} from the policy's scores source (a workspace table, or a CSV or
    Parquet file such as `mercator recommend batch --output` writes), for its arms only (the
    rows filtered in the engine)."""
    src, cols = policy.scores["source"], policy.scores
    staged = None
    if src.lower().endswith((".csv", ".parquet", ".pq")):
        if not Path(src).is_file():
            raise BadParameter(f"policy {policy.name}: scores source {src} does not exist")
        from pyarrow import csv, parquet

        arrow = csv.read_csv(src) if src.lower().endswith(".csv") else parquet.read_table(src)
        t = staged = ws.engine.stage(arrow)
    else:
        t = ws.table(src)
    try:
        missing = [c for c in (cols["person"], cols["arm"], cols["score"]) if c not in t.columns]
        if missing:
            raise BadParameter(f"policy {policy.name}: scores source {src} has no column(s) {', '.join(missing)} "
                               f"(it has {', '.join(t.columns)})")
        t = t.filter(t[cols["arm"]].cast("string").isin(policy.arm_ids))
        rows = t.select(person=t[cols["person"]].cast("string"), arm=t[cols["arm"]].cast("string"),
                        score=t[cols["score"]].cast("float64")).to_pyarrow()
    finally:
        if staged is not None:
            ws.engine.release(staged)
    out: dict[str, dict[str, float]] = {}
    for person, arm, score in zip(*(rows.column(c).to_pylist() for c in ("person", "arm", "score")), strict=True):
        out.setdefault(person, {})[arm] = score
    return out


def recently_shown(ws, decider: Decider, now: float | None = None):
    """Who was shown which arm of the decider's policy within its longest cap window (person_id,
    ts in seconds, arm), oldest first: the caps' memory after a restart."""
    window = decider._longest
    if not window:
        return pd.DataFrame(columns=["person_id", "ts", "arm"])
    now = time.time() if now is None else now
    t = ws.table("decisions")
    since = dt.datetime.fromtimestamp(now - window, dt.UTC).replace(tzinfo=None)
    t = t.filter((t.policy == decider.policy.name) & t.person_id.notnull() & (t.ts >= since))
    return t.select("person_id", ts=t.ts.epoch_seconds(), arm=t.arm).order_by("ts").to_pandas()


class DecisionService:
    """The live policies of a workspace, served from memory (module docstring).

    ``reading`` and ``writing`` open the workspace (context managers, as the server's);
    ``consenting(purpose)`` gives the people who consented to a purpose; the logs live in ``folder`` until each sync hands them to the workspace's decisions and rewards
    tables (every ``sync_interval`` seconds, and at ``close``)."""

    def __init__(self, folder: str | Path, *, reading: Callable, writing: Callable,
                 consenting: Callable[[str], frozenset[str]] | None = None, sync_interval: float = 60.0,
                 seed: int | None = None) -> None:
        self.folder = Path(folder)
        self.reading, self.writing, self.consenting = reading, writing, consenting
        self.sync_interval, self.seed = sync_interval, seed
        self.decisions = DecisionLog(self.folder / "decisions")
        self.rewards = DecisionLog(self.folder / "rewards", schema=REWARDS)
        self.deciders: dict[str, Decider] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> dict[str, int]:
        """(Re)load the live policies and teach each what the log holds; per policy, the
        decisions learned from. Decisions waiting in the logs are handed over first."""
        self.sync()
        learned = {}
        with self.reading() as ws:
            deciders = {}
            creatives = live_creatives(ws)
            for policy in live_policies(ws):
                decider = Decider(policy, log=self.decisions.append, seed=self.seed, **serving_state(ws, policy,
                                                                                                   creatives))
                learned[policy.name] = learn_from_log(ws, decider)
                decider.remember(recently_shown(ws, decider))
                deciders[policy.name] = decider
        with self._lock:
            self.deciders = deciders
        return learned

    def policy(self, name: str) -> Policy:
        return self._decider(name).policy

    def _decider(self, name: str) -> Decider:
        decider = self.deciders.get(name)
        if decider is None:
            raise NotFoundError(f"no live policy {name!r}" + (f" (live: {', '.join(sorted(self.deciders))})"
                                                               if self.deciders else " (none is live)"))
        return decider

    def content(self, policy: str, arm: str) -> str | None:
        """What the arm shows: its live creative's content (None without a registered one)."""
        return self._decider(policy).content.get(arm)

    def decide(self, policy: str, person_id: str | None, context: dict) -> dict:
        """A decision (the record logged), consent checked against the current set."""
        decider = self._decider(policy)
        if decider.policy.purpose and self.consenting is not None:
            decider.consenting = self.consenting(decider.policy.purpose)
        with self._lock:  # the bandit state, caps and the random stream are shared
            return decider.decide(person_id, context)

    def feedback(self, decision_id: str, reward: float) -> str:
        """Record a reward (always, in the rewards log) and learn from it where the decision is
        one this server made within its attribution window."""
        if not isinstance(reward, int | float) or isinstance(reward, bool) or not np.isfinite(reward):
            raise BadParameter("reward must be a number")
        now = time.time()
        self.rewards.append({"decision_id": decision_id, "ts": int(now * 1e6), "reward": float(reward)})
        status = "not learned: unknown decision, or a fallback, or its reward was already given"
        with self._lock:
            for decider in self.deciders.values():
                if decision_id in decider._pending:
                    status = decider.feedback(decision_id, float(reward), now=now)
                    break
        return status

    def sync(self) -> int:
        """Hand the logs to the workspace; the decisions handed over (0 if the workspace is held
        by another process: they wait in the logs for the next sync)."""
        from mercator.errors import WorkspaceBusyError

        if not (self.decisions.waiting() or self.rewards.waiting()):
            return 0
        try:
            with self.writing() as ws:
                n = self.decisions.sync(into(ws, "decisions"))
                self.rewards.sync(into(ws, "rewards"))
                return n
        except WorkspaceBusyError as exc:
            log.warning("decision log not handed over yet: %s", exc)
            return 0

    def start(self) -> None:
        """Start the logs and the hand-over loop (again after a close: an app's lifespan can run
        more than once, as test clients do)."""
        self._stop = threading.Event()
        self.decisions.start()
        self.rewards.start()

        def loop() -> None:
            while not self._stop.wait(self.sync_interval):
                with contextlib.suppress(Exception):  # a failed hand-over is retried; nothing is lost
                    self.sync()

        self._thread = threading.Thread(target=loop, name="decision-sync", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop, and hand everything over."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.decisions.close()
        self.rewards.close()
        self.sync()
