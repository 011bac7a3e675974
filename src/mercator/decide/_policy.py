"""A decision policy and the decider that serves it.

A policy (YAML, or the same as a dict) names its arms, who may get each, how often one person
may see them, and how to choose among the eligible ones::

    policy: hero_banner
    bandit: thompson            # thompson, epsilon_greedy, ucb1, linucb, lin_thompson, uniform
    floor: 0.01                 # every eligible arm keeps at least this probability
    context: [device, country, segment, hour]
    purpose: personalization    # consent needed for a personalized choice
    default: generic            # for people without consent, and when every arm is capped
    caps:
      - {scope: arm, max: 3, window: 1d}       # per person; scope arm, campaign or channel
      - {scope: campaign, max: 5, window: 7d}
    arms:
      - id: summer_sale
        campaign: summer
        channel: web
        when: {device: [mobile, desktop], country: [US, GB], hour: [8, 22]}
      - id: generic

``when`` lists the values a context key must have (``hour``: an inclusive range); an arm without
``when`` is always eligible. The rules are compiled once into set lookups, so a decision costs
a few dictionary operations before the bandit.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mercator.config import load_spec, parse_duration
from mercator.decide._bandits import POLICIES, Bandit, with_floor
from mercator.decide._features import DIM, context_hash, hashed, json_text
from mercator.errors import BadParameter

SCOPES = ("arm", "campaign", "channel")
RANGE_KEYS = ("hour",)


@dataclass(frozen=True)
class Cap:
    scope: str
    max: int
    window_s: float


@dataclass(frozen=True)
class Arm:
    id: str
    campaign: str | None = None
    channel: str | None = None
    when: tuple = ()  # ((key, frozenset(values) or (low, high)), ...)
    product: str | None = None  # not eligible while this product is out of stock

    def eligible(self, context: dict) -> bool:
        for key, allowed in self.when:
            value = context.get(key)
            if isinstance(allowed, tuple):
                if not isinstance(value, int | float) or not allowed[0] <= value <= allowed[1]:
                    return False
            elif value not in allowed:
                return False
        return True


@dataclass(frozen=True)
class Policy:
    name: str
    arms: tuple[Arm, ...]
    bandit: str = "thompson"
    floor: float = 0.0
    epsilon: float = 0.1
    alpha: float = 1.0
    context: tuple[str, ...] = ()
    purpose: str | None = "personalization"
    default: str | None = None
    caps: tuple[Cap, ...] = ()
    version: int = 1
    attribution_window_s: float = 7 * 86400
    suppress: tuple[str, ...] = ()  # saved segments whose members get the default
    scores: dict | None = None  # bandit "scores": {source, person, arm, score}

    @property
    def arm_ids(self) -> list[str]:
        return [a.id for a in self.arms]

    def to_dict(self) -> dict:
        return {"policy": self.name, "version": self.version, "bandit": self.bandit, "floor": self.floor,
                "epsilon": self.epsilon, "alpha": self.alpha, "context": list(self.context), "purpose": self.purpose,
                "default": self.default, "attribution_window": f"{int(self.attribution_window_s)}s",
                "caps": [{"scope": c.scope, "max": c.max, "window": f"{int(c.window_s)}s"} for c in self.caps],
                "suppress": list(self.suppress), "scores": self.scores,
                "arms": [{"id": a.id, "campaign": a.campaign, "channel": a.channel, "product": a.product,
                          "when": {k: (list(v) if isinstance(v, tuple) else sorted(v)) for k, v in a.when}}
                         for a in self.arms]}


def _window(text, where: str) -> float:
    return parse_duration(text, where)


def spec_dict(spec: dict | str | Path) -> dict:
    """A policy's mapping from a dict, YAML text or a YAML file."""
    return load_spec(spec, "policy")


def parse_policy(spec: dict | str | Path) -> Policy:
    """A policy from a dict, YAML text or a YAML file; every problem names where it is."""
    spec = spec_dict(spec)
    name = spec.get("policy")
    if not name or not isinstance(name, str):
        raise BadParameter("policy: the 'policy' key (its name) is missing")
    bandit = spec.get("bandit", "thompson")
    if bandit not in POLICIES:
        raise BadParameter(f"policy {name}: bandit {bandit!r} is not one of {', '.join(POLICIES)}")
    context = tuple(spec.get("context") or ())
    arms = []
    for i, a in enumerate(spec.get("arms") or []):
        where = f"policy {name}, arms[{i}]"
        if not isinstance(a, dict) or not a.get("id"):
            raise BadParameter(f"{where}: an arm needs an id")
        when = []
        for key, allowed in (a.get("when") or {}).items():
            if key not in context:
                raise BadParameter(f"{where}, when.{key}: not a context key of the policy ({', '.join(context)})")
            if key in RANGE_KEYS:
                if not (isinstance(allowed, list) and len(allowed) == 2):
                    raise BadParameter(f"{where}, when.{key}: a range [low, high]")
                when.append((key, (float(allowed[0]), float(allowed[1]))))
            else:
                when.append((key, frozenset(allowed if isinstance(allowed, list) else [allowed])))
        arms.append(Arm(str(a["id"]), a.get("campaign"), a.get("channel"), tuple(when),
                        None if a.get("product") is None else str(a["product"])))
    if len(arms) < 1:
        raise BadParameter(f"policy {name}: no arms")
    ids = [a.id for a in arms]
    if len(set(ids)) != len(ids):
        raise BadParameter(f"policy {name}: arm ids repeat ({', '.join(sorted({i for i in ids if ids.count(i) > 1}))})")
    default = spec.get("default")
    if default is not None and default not in ids:
        raise BadParameter(f"policy {name}: default {default!r} is not one of its arms")
    caps = []
    for i, c in enumerate(spec.get("caps") or []):
        where = f"policy {name}, caps[{i}]"
        if not isinstance(c, dict) or c.get("scope") not in SCOPES:
            raise BadParameter(f"{where}: scope must be one of {', '.join(SCOPES)}")
        if not isinstance(c.get("max"), int) or c["max"] < 1:
            raise BadParameter(f"{where}: max must be a whole number of at least 1")
        caps.append(Cap(c["scope"], c["max"], _window(c.get("window"), where)))
    floor = float(spec.get("floor", 0.0))
    if floor * len(arms) > 1 or floor < 0:
        raise BadParameter(f"policy {name}: floor {floor} is impossible with {len(arms)} arms")
    suppress = spec.get("suppress") or []
    if not isinstance(suppress, list) or not all(isinstance(x, str) for x in suppress):
        raise BadParameter(f"policy {name}: suppress is a list of saved segment names")
    scores = spec.get("scores")
    if bandit == "scores":
        if not isinstance(scores, dict) or not scores.get("source"):
            raise BadParameter(f"policy {name}: bandit scores needs scores: {{source: FILE or table, person: column, "
                               f"arm: column, score: column}}")
        scores = {"source": str(scores["source"]), "person": scores.get("person", "person_id"),
                  "arm": scores.get("arm", "arm"), "score": scores.get("score", "score")}
    elif scores is not None:
        raise BadParameter(f"policy {name}: scores are read only by bandit: scores")
    return Policy(name=name, arms=tuple(arms), bandit=bandit, floor=floor, epsilon=float(spec.get("epsilon", 0.1)),
                  alpha=float(spec.get("alpha", 1.0)), context=context, purpose=spec.get("purpose", "personalization"),
                  default=default, caps=tuple(caps), version=int(spec.get("version", 1)),
                  attribution_window_s=_window(spec.get("attribution_window", "7d"), f"policy {name}"),
                  suppress=tuple(suppress), scores=scores)


class ContextError(BadParameter):
    """A malformed context: names the field (the API answers 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"context.{field}: {reason}")
        self.field = field


@dataclass
class Decider:
    """Serves one policy in memory: eligibility, caps, consent, the bandit, the floor and the
    fallback; hands every decision to ``log`` (a callable taking the record) before returning."""

    policy: Policy
    consenting: frozenset[str] | None = None  # None: consent not checked (a policy without a purpose)
    log: object = None
    seed: int | None = None
    #: the creative registry's latest versions (creative_id, status, content, start, end): an arm
    #: with a registered creative runs only while it is live and within its dates, and serves its
    #: content; an arm without one always runs
    creatives: object = None
    #: people in the policy's suppressed segments (they get the default)
    suppressed: frozenset[str] = frozenset()
    #: products out of stock (an arm for one is not eligible)
    out_of_stock: frozenset[str] = frozenset()
    #: bandit "scores": person -> {arm: score}
    scores: dict | None = None
    bandit: Bandit = field(init=False)
    _seen: dict = field(default_factory=dict)  # person -> deque of (time, arm index)
    _pending: dict = field(default_factory=dict)  # decision id -> (time, arm index, context vector)
    _order: deque = field(default_factory=deque)  # (time, decision id), oldest first
    _cache: dict = field(default_factory=dict)  # (state version, eligible mask) -> probabilities
    _version: int = 0

    def __post_init__(self) -> None:
        p = self.policy
        self.bandit = Bandit(p.bandit, p.arm_ids, dim=DIM if p.bandit.startswith("lin") else 0, epsilon=p.epsilon,
                             alpha=p.alpha)
        self._rng = np.random.default_rng(self.seed)
        self._index = {a.id: i for i, a in enumerate(p.arms)}
        self._default = self._index.get(p.default) if p.default else None
        self._longest = max((c.window_s for c in p.caps), default=0.0)
        self._campaign = [a.campaign for a in p.arms]
        self._channel = [a.channel for a in p.arms]
        self.content: dict[str, str | None] = {}
        k = len(p.arms)
        self._runs_from, self._runs_to = np.full(k, -np.inf), np.full(k, np.inf)
        if self.creatives is not None:
            for r in self.creatives.itertuples():
                i = self._index.get(r.creative_id)
                if i is None:
                    continue
                self.content[r.creative_id] = r.content
                if r.status != "live":
                    self._runs_from[i] = np.inf
                else:  # dates are whole UTC days: from the start's midnight to the end's last second
                    if r.start is not None and not pd.isna(r.start):
                        self._runs_from[i] = pd.Timestamp(r.start).timestamp()
                    if r.end is not None and not pd.isna(r.end):
                        self._runs_to[i] = pd.Timestamp(r.end).timestamp() + 86_400
        for i, a in enumerate(p.arms):
            if a.product is not None and a.product in self.out_of_stock:
                self._runs_from[i] = np.inf
        self._always = bool(np.isneginf(self._runs_from).all() and np.isposinf(self._runs_to).all())

    def remember(self, seen: pd.DataFrame) -> None:
        """What each person was shown within the longest cap window (person_id, ts in seconds,
        arm), from the log, so that caps hold across a restart."""
        for person, ts, arm in seen[["person_id", "ts", "arm"]].itertuples(index=False):
            i = self._index.get(arm)
            if i is not None:
                self._seen.setdefault(person, deque()).append((float(ts), i))

    # -- the request path ------------------------------------------------------------------
    def check(self, context: dict) -> dict:
        """The context as the policy reads it; a key it does not declare, or a value that is
        not text, a number or a boolean, is refused naming the field."""
        if not isinstance(context, dict):
            raise ContextError("", "must be an object of key: value")
        for key, value in context.items():
            if key not in self.policy.context:
                raise ContextError(key, f"not a context key of policy {self.policy.name} "
                                        f"({', '.join(self.policy.context) or 'it takes none'})")
            if value is not None and not isinstance(value, str | int | float | bool):
                raise ContextError(key, "must be text, a number or a boolean")
            if key in RANGE_KEYS and value is not None and not isinstance(value, int | float):
                raise ContextError(key, "must be a number")
        return context

    def decide(self, person_id: str | None, context: dict, now: float | None = None) -> dict:
        started = time.perf_counter()
        now = time.time() if now is None else now
        context = self.check(context)
        p = self.policy
        k = len(p.arms)
        fallback = None
        x = None
        if p.purpose and self.consenting is not None and (person_id is None or person_id not in self.consenting):
            chosen, probs, fallback = self._default_or_first(), None, f"no consent to {p.purpose}: the default"
            eligible = np.zeros(k, bool)
        elif person_id is not None and person_id in self.suppressed:
            chosen, probs, fallback = self._default_or_first(), None, "suppressed: the default"
            eligible = np.zeros(k, bool)
        else:
            probs = None
            eligible = np.fromiter((a.eligible(context) for a in p.arms), bool, k)
            if not self._always:
                eligible &= (self._runs_from <= now) & (now < self._runs_to)
            if not eligible.any():
                fallback = "no arm is eligible in this context: the default"
            elif p.caps and person_id is not None:
                capped = self._capped(person_id, now)
                if (eligible & ~capped).any():
                    eligible &= ~capped
                else:
                    fallback = "every eligible arm is capped for this person: the default"
            if fallback is None and p.bandit == "scores":
                probs = self._ranked(person_id, eligible)
                if probs is None:
                    fallback = "no scores for this person among the eligible arms: the default"
            if fallback is None:
                x = hashed(context) if self.bandit.contextual else None
                if probs is None:
                    probs = self._probabilities(x, eligible)
                chosen = int(np.minimum(np.searchsorted(np.cumsum(probs), self._rng.random(), side="right"), k - 1))
            else:
                chosen, probs = self._default_or_first(), None
        propensity = 1.0 if probs is None else float(probs[chosen])
        decision_id = uuid.uuid4().hex
        if person_id is not None and p.caps:
            self._seen.setdefault(person_id, deque()).append((now, chosen))
        if fallback is None:
            self._remember(decision_id, now, chosen, x)
        text = json_text(context)
        record = {"decision_id": decision_id, "ts": int(now * 1e6), "person_id": person_id, "policy": p.name,
                  "policy_version": p.version, "context": text, "context_hash": context_hash(text),
                  "eligible": ",".join(a.id for a, e in zip(p.arms, eligible, strict=True) if e),
                  "arm": p.arms[chosen].id, "propensity": propensity, "fallback_reason": fallback,
                  "latency_ms": (time.perf_counter() - started) * 1000}
        if self.log is not None:
            self.log(record)
        return record

    def _ranked(self, person: str | None, eligible: np.ndarray) -> np.ndarray | None:
        """The person's best-scored eligible arm (ties shared) with the floor for the others;
        None when the person has no score for an eligible arm."""
        mine = (self.scores or {}).get(person) if person is not None else None
        if not mine:
            return None
        s = np.array([mine.get(a.id, np.nan) if e else np.nan for a, e in zip(self.policy.arms, eligible,
                                                                              strict=True)])
        if np.isnan(s).all():
            return None
        best = np.nan_to_num(s, nan=-np.inf)
        top = (best >= np.nanmax(s) - 1e-12).astype(float)
        out = np.zeros(len(s))
        idx = np.flatnonzero(eligible)
        out[idx] = with_floor(top[idx] / top.sum(), self.policy.floor)
        return out

    def _remember(self, decision_id: str, now: float, arm: int, x) -> None:
        """Keep what a reward needs until the attribution window closes (oldest dropped first:
        decisions arrive in time order, so the queue's head is the oldest)."""
        self._pending[decision_id] = (now, arm, x)
        order = self._order
        order.append((now, decision_id))
        horizon = now - self.policy.attribution_window_s
        while order[0][0] < horizon:
            self._pending.pop(order.popleft()[1], None)

    def _default_or_first(self) -> int:
        return self._default if self._default is not None else 0

    def _capped(self, person: str, now: float) -> np.ndarray:
        """Which arms ``person`` may not see now: an arm, campaign or channel at its cap within
        its window (plain Python: ten arms and a few past decisions cost less than NumPy's calls)."""
        k = len(self.policy.arms)
        seen = self._seen.get(person)
        capped = [False] * k
        if seen:
            while seen and seen[0][0] < now - self._longest:
                seen.popleft()
            for cap in self.policy.caps:
                since = now - cap.window_s
                label = range(k) if cap.scope == "arm" else self._campaign if cap.scope == "campaign" \
                    else self._channel
                tally: dict = {}
                for t, a in seen:
                    if t >= since and label[a] is not None:
                        tally[label[a]] = tally.get(label[a], 0) + 1
                for i in range(k):
                    if label[i] is not None and tally.get(label[i], 0) >= cap.max:
                        capped[i] = True
        return np.array(capped)

    def _probabilities(self, x: np.ndarray | None, eligible: np.ndarray) -> np.ndarray:
        if x is not None:
            return self.bandit.probabilities(x, eligible, self.policy.floor)
        key = (self._version, eligible.tobytes())
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 256:
                self._cache.clear()
            hit = self._cache[key] = self.bandit.probabilities(None, eligible, self.policy.floor)
        return hit

    # -- learning ----------------------------------------------------------------------------
    def feedback(self, decision_id: str, reward: float, now: float | None = None) -> str:
        """Learn from the reward of a decision served by this decider within the attribution
        window; says what happened (learned, too late, unknown or a fallback)."""
        now = time.time() if now is None else now
        hit = self._pending.pop(decision_id, None)
        if hit is None:
            return "not learned: unknown decision, or a fallback, or its reward was already given"
        ts, arm, x = hit
        if now - ts > self.policy.attribution_window_s:
            return "not learned: after the attribution window"
        self.bandit.update(np.array([arm]), np.array([float(reward)]), None if x is None else x[None, :])
        self._version += 1
        return "learned"

    def learn(self, arms: np.ndarray, rewards: np.ndarray, contexts: list[dict] | None = None) -> None:
        """Learn from a batch (the feedback table joined to the decisions, in batch mode)."""
        x = np.stack([hashed(c) for c in contexts]) if self.bandit.contextual and contexts else None
        self.bandit.update(np.asarray(arms, int), np.asarray(rewards, float), x)
        self._version += 1
