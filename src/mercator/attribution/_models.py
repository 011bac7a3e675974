"""Attribution models on a table of unique paths: pure NumPy/SciPy, no I/O.

A ``Paths`` holds each unique journey once, as channel ids in touch order, with how many
journeys took it and converted (``conversions``), did not (``nulls``), and their conversion
``value``. Every model turns it into credit per channel:

- rules: first, last, last non-direct, linear, position-based (40/20/40). Each is a weight
  per touch, summed with ``np.bincount`` over all touches at once;
- Markov chains of order 1-3 (Anderl et al. 2016): removal effects computed exactly, by
  solving the absorbing chain's linear system once per channel (sparse LU), where the
  ``channelattribution`` package simulates;
- Shapley values over channel sets (Zhao et al. 2018, "simplified Shapley"): the worth of a
  set of channels is the conversion rate of journeys that saw exactly that set, so a
  channel's credit is what it adds to the rate, averaged over the orders in which channels
  join. This is causal only if exposure is as good as random given the other channels: a
  channel shown to people who would convert anyway (retargeting) is credited for it.

No library computes exact Markov removal effects or set-based Shapley credit at this scale;
``channelattribution`` (GPL, simulation-based) is the reference in the tests and benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from scipy.sparse.linalg import splu

RULES = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based")
MARKOV = ("markov_1", "markov_2", "markov_3")
MODELS = (*RULES, "time_decay", *MARKOV, "shapley")
#: Journeys with more distinct channels than this get Shapley values from sampled orderings.
EXACT_SHAPLEY_MAX = 15
#: Pseudo-journeys that pull a sparse set's (or state's) conversion rate towards its prior.
SHRINK = 30.0


@dataclass(frozen=True)
class Paths:
    """Unique paths: ``tokens[start[i]:start[i + 1]]`` are path i's channel ids in touch order."""

    channels: tuple[str, ...]
    tokens: np.ndarray
    start: np.ndarray
    conversions: np.ndarray
    nulls: np.ndarray
    value: np.ndarray

    @classmethod
    def from_strings(cls, path, conversions, nulls=None, value=None, sep: str = ">") -> Paths:
        """From path strings (``"a > b > a"``; blank = a journey without touches) and counts."""
        arr = pa.array(path, pa.string(), from_pandas=True).fill_null("")
        split = pc.split_pattern(arr, sep)
        # encode the raw steps first and trim only the small dictionary: channel names are few,
        # steps are many (this is most of the time spent on a large path table)
        enc = pc.list_flatten(split).dictionary_encode()
        raw = np.array(pc.utf8_trim_whitespace(enc.dictionary).to_pylist(), dtype=object)
        names = np.unique(raw[raw != ""])
        code = np.where(raw != "", np.searchsorted(names, raw), -1).astype(np.int32)
        steps = code[enc.indices.to_numpy(zero_copy_only=False)] if len(raw) else np.zeros(0, np.int32)
        parts = pc.list_value_length(split).to_numpy(zero_copy_only=False)
        lengths = parts.copy()
        blank = np.flatnonzero(steps < 0)
        if len(blank):  # a blank path is one empty step; an empty step inside a path is an error
            owner = np.searchsorted(np.cumsum(parts), blank, side="right")
            if (parts[owner] != 1).any():
                raise ValueError("paths have empty steps (two separators in a row, or one at an end)")
            lengths[owner] = 0
        n = len(parts)
        return cls(tuple(names), steps[steps >= 0] if len(blank) else steps, np.r_[0, np.cumsum(lengths)].astype(np.int64),
                   np.asarray(conversions, float), np.zeros(n) if nulls is None else np.asarray(nulls, float),
                   np.zeros(n) if value is None else np.asarray(value, float))

    @property
    def length(self) -> np.ndarray:
        return np.diff(self.start)

    @property
    def journeys(self) -> np.ndarray:
        return self.conversions + self.nulls

    def position(self) -> tuple[np.ndarray, np.ndarray]:
        """Per touch: its path index and its position in the path (computed once per Paths)."""
        return self._position

    @cached_property
    def _position(self) -> tuple[np.ndarray, np.ndarray]:
        pid = np.repeat(np.arange(len(self.conversions)), self.length)
        return pid, np.arange(len(self.tokens)) - self.start[pid]

    def with_counts(self, conversions: np.ndarray, nulls: np.ndarray, value: np.ndarray) -> Paths:
        return replace(self, conversions=conversions, nulls=nulls, value=value)

    def strings(self, which: np.ndarray, sep: str = " > ") -> list[str]:
        """The paths ``which`` as text."""
        names = np.array(self.channels, dtype=object)
        return [sep.join(names[self.tokens[self.start[i]:self.start[i + 1]]]) for i in which]


# -- rules -------------------------------------------------------------------------------------

def rule_weights(p: Paths, rule: str, direct: tuple[str, ...] = ("direct",)) -> np.ndarray:
    """Each touch's share of its journey's credit under ``rule`` (shares sum to 1 per path)."""
    pid, pos = p.position()
    n = p.length[pid]
    if rule == "first_touch":
        return (pos == 0).astype(float)
    if rule == "last_touch":
        return (pos == n - 1).astype(float)
    if rule == "linear":
        return 1.0 / n
    if rule == "position_based":
        ends = (pos == 0) | (pos == n - 1)
        return np.select([n == 1, n == 2, ends], [1.0, 0.5, 0.4], 0.2 / np.maximum(n - 2, 1))
    if rule == "last_non_direct":
        ids = [i for i, c in enumerate(p.channels) if c in direct]
        keep = ~np.isin(p.tokens, ids)
        score = np.where(keep, pos, -1)  # the last kept position per path, else the last touch
        best = np.full(len(p.conversions), -1)
        np.maximum.at(best, pid, score)
        best = np.where(best < 0, p.length - 1, best)
        return (pos == best[pid]).astype(float)
    raise ValueError(f"unknown rule {rule!r}; rules: {', '.join(RULES)}")


def rule_credit(p: Paths, rule: str, direct: tuple[str, ...] = ("direct",)) -> pd.DataFrame:
    w = rule_weights(p, rule, direct)
    pid, _ = p.position()
    k = len(p.channels)
    return pd.DataFrame({"channel": p.channels,
                         "conversions": np.bincount(p.tokens, w * p.conversions[pid], minlength=k),
                         "value": np.bincount(p.tokens, w * p.value[pid], minlength=k)})


# -- Markov chains -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Chain:
    """An absorbing chain over states (the last ``order`` channels): transient states
    0..m-1, then START; ``q`` counts transient -> transient (START is a row), ``conv`` and
    ``null`` count exits. ``contains[s, c]`` says whether state s holds channel c; ``last[i]``
    is path i's final state (-1 for an empty path)."""

    order: int
    q: sp.csr_matrix
    conv: np.ndarray
    null: np.ndarray
    contains: np.ndarray
    last: np.ndarray


def chain(p: Paths, order: int) -> Chain:
    if order not in (1, 2, 3):
        raise ValueError(f"Markov order must be 1, 2 or 3; got {order}")
    pid, pos = p.position()
    base = len(p.channels) + 1
    code = p.tokens.astype(np.int64) + 1
    for j in range(1, order):  # state = the last `order` channels (fewer at a path's start)
        back = np.r_[np.zeros(j, np.int64), code[:-j] % base] if len(code) > j else np.zeros_like(code)
        code = code + np.where(pos >= j, back, 0) * base ** j
    states, sid = _codes(code, base ** order)
    m = len(states)
    touched = p.length > 0
    last = (p.start[1:] - 1)[touched]  # each touched path's final touch
    first = p.start[:-1][touched]
    step = p.journeys[pid[:-1]]  # touch i -> i + 1 within a path, weighted by its journeys
    step[last[:-1]] = 0.0  # (the last touch of one path is not followed by the next path's first)
    # transitions counted by bincount over (from, to) pair codes, START the row m: cheaper than
    # letting scipy sum duplicate entries of millions of touches
    size = (m + 1) * m
    if size <= 4 * len(code) + (1 << 16):
        counts = (np.bincount(sid[:-1] * m + sid[1:], step, minlength=size)
                  + np.bincount(m * m + sid[first], p.journeys[touched], minlength=size))
        pairs = np.flatnonzero(counts)
        counts = counts[pairs]
    else:
        pairs, pair_id = np.unique(np.r_[sid[:-1] * m + sid[1:], m * m + sid[first]], return_inverse=True)
        counts = np.bincount(pair_id, np.r_[step, p.journeys[touched]], minlength=len(pairs))
    q = sp.csr_matrix((counts, (pairs // m, pairs % m)), shape=(m + 1, m))
    q.eliminate_zeros()
    conv = np.bincount(sid[last], p.conversions[touched], minlength=m)
    null = np.bincount(sid[last], p.nulls[touched], minlength=m)
    contains = np.zeros((m, len(p.channels)), bool)
    for j in range(order):  # digit j of a state code is a channel id + 1 (0: no channel)
        d = (states // base ** j) % base
        contains[np.flatnonzero(d > 0), d[d > 0] - 1] = True
    final = np.full(len(p.conversions), -1)
    final[touched] = sid[last]
    return Chain(order, q, conv, null, contains, final)


def _codes(code: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``code`` (all in [0, space)) and each one's index among them, like
    ``np.unique(code, return_inverse=True)``; by a lookup table when the space is small, which
    is linear where sorting millions of touches is not."""
    if space > 4 * len(code) + (1 << 16):
        return np.unique(code, return_inverse=True)
    seen = np.zeros(space, bool)
    seen[code] = True
    return np.flatnonzero(seen), (np.cumsum(seen) - 1)[code]


def _absorb(prob: sp.csr_matrix, r: np.ndarray, removed: np.ndarray | None = None) -> float:
    """P(conversion) from START (the last row of ``prob``, transition probabilities to the
    transient states; ``r`` their chance of converting next); transitions into ``removed``
    states go to null instead."""
    m = len(r)
    if removed is not None and removed.any():
        prob = prob @ sp.diags((~removed).astype(float))
    # absorbing probabilities from the transient states: (I - Q) x = r; START reads them off
    x = splu(sp.identity(m, format="csc") - prob[:m].tocsc()).solve(r)
    return float((prob[m] @ x)[0])


def markov_credit(p: Paths, order: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Credit per channel and the removal effects (1 - P(conversion without c) / P(conversion))."""
    touched = p.length > 0
    c = chain(p, order)
    out = np.asarray(c.q.sum(axis=1)).ravel() + np.r_[c.conv + c.null, 0.0]
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    prob, r = sp.diags(inv) @ c.q, c.conv * inv[:-1]  # (m + 1) x m, the START row last
    total = _absorb(prob, r)
    effects = np.array([1 - _absorb(prob, r, c.contains[:, ch]) / total if total > 0 else 0.0
                        for ch in range(len(p.channels))])
    share = effects / effects.sum() if effects.sum() > 0 else effects
    conv, val = p.conversions[touched].sum(), p.value[touched].sum()
    credit = pd.DataFrame({"channel": p.channels, "conversions": share * conv, "value": share * val})
    return credit, pd.DataFrame({"channel": p.channels, "removal_effect": effects, "p_conversion": total})


# -- Shapley over channel sets -----------------------------------------------------------------

def masks(p: Paths) -> np.ndarray:
    """Each path's set of channels as a bit mask (int64: up to 62 channels)."""
    if len(p.channels) > 62:
        raise ValueError(f"Shapley over channel sets handles up to 62 channels; these paths have "
                         f"{len(p.channels)}: group the rare ones (for example into 'other')")
    pid, _ = p.position()
    out = np.zeros(len(p.conversions), np.int64)
    np.bitwise_or.at(out, pid, np.left_shift(np.int64(1), p.tokens.astype(np.int64)))
    return out


@dataclass(frozen=True)
class SetWorth:
    """Conversion rate (and value per journey) of journeys by their exact channel set, shrunk
    towards an additive model of the channels for sets with few journeys (and taken from it for
    sets never seen)."""

    sets: np.ndarray
    rate: np.ndarray
    value_rate: np.ndarray
    coef_rate: np.ndarray
    coef_value: np.ndarray
    k: int

    @classmethod
    def fit(cls, mask: np.ndarray, conversions: np.ndarray, nulls: np.ndarray, value: np.ndarray,
            k: int) -> SetWorth:
        sets, inv = np.unique(mask, return_inverse=True)
        n = np.bincount(inv, conversions + nulls)
        conv = np.bincount(inv, conversions)
        val = np.bincount(inv, value)
        bits = _bits(sets, k)
        design = np.c_[np.ones(len(sets)), bits]
        sw = np.sqrt(n)  # weighted least squares: each set weighs by its journeys
        with np.errstate(divide="ignore", invalid="ignore"):
            r, vr = np.where(n > 0, conv / n, 0), np.where(n > 0, val / n, 0)
        coef_rate = np.linalg.lstsq(design * sw[:, None], r * sw, rcond=None)[0]
        coef_value = np.linalg.lstsq(design * sw[:, None], vr * sw, rcond=None)[0]
        prior_r, prior_v = design @ coef_rate, design @ coef_value
        rate = (conv + SHRINK * prior_r) / (n + SHRINK)
        value_rate = (val + SHRINK * prior_v) / (n + SHRINK)
        return cls(sets, rate, value_rate, coef_rate, coef_value, k)

    def __call__(self, m: np.ndarray, value: bool = False) -> np.ndarray:
        m = np.asarray(m, np.int64)
        i = np.clip(np.searchsorted(self.sets, m), 0, len(self.sets) - 1)
        seen = self.sets[i] == m
        coef = self.coef_value if value else self.coef_rate
        # a conversion rate or value per journey is never below zero, even where the linear
        # prior for an unseen channel set extrapolates below it
        prior = np.maximum(coef[0] + _bits(m, self.k) @ coef[1:], 0.0)
        return np.where(seen, (self.value_rate if value else self.rate)[i], prior)

    def observed(self, m: int) -> bool:
        i = np.searchsorted(self.sets, m)
        return i < len(self.sets) and self.sets[i] == m


def _bits(m: np.ndarray, k: int) -> np.ndarray:
    return ((np.asarray(m, np.int64)[:, None] >> np.arange(k, dtype=np.int64)) & 1).astype(float)


def _set_shapley(members: np.ndarray, worth: SetWorth, rng: np.random.Generator, value: bool
                 ) -> np.ndarray:
    """Shapley values of the channels in one set under ``worth``: exact by subsets up to
    EXACT_SHAPLEY_MAX channels, else averaged over 2,000 sampled orderings."""
    k = len(members)
    bit = np.left_shift(np.int64(1), members.astype(np.int64))
    if k <= EXACT_SHAPLEY_MAX:
        idx = np.arange(2 ** k, dtype=np.int64)
        inside = (idx[:, None] >> np.arange(k, dtype=np.int64)) & 1
        sub = inside @ bit
        v = worth(sub, value)
        size = inside.sum(axis=1)
        weight = np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) if s < k else 0.0
                           for s in range(k + 1)])
        phi = np.empty(k)
        for j in range(k):
            without = inside[:, j] == 0
            phi[j] = np.sum(weight[size[without]] * (v[idx[without] | (1 << j)] - v[without]))
        return phi
    perms = np.argsort(rng.random((2000, k)), axis=1)
    cum = np.cumsum(bit[perms], axis=1)
    before = np.c_[np.zeros(len(perms), np.int64), cum[:, :-1]]
    gain = worth(cum.ravel(), value).reshape(cum.shape) - worth(before.ravel(), value).reshape(cum.shape)
    phi = np.zeros(k)
    np.add.at(phi, perms.ravel(), gain.ravel())
    return phi / len(perms)


def shapley_credit(p: Paths, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Incremental conversions (and value) per channel: for every channel set S seen, its
    journeys x each channel's Shapley value in the game v(T) = conversion rate of set T, so the
    credits add up to the conversions above the no-touch rate v({})."""
    mask = masks(p)
    k = len(p.channels)
    worth = SetWorth.fit(mask, p.conversions, p.nulls, p.value, k)
    sets, inv = np.unique(mask, return_inverse=True)
    n = np.bincount(inv, p.journeys)
    conv, val = np.zeros(k), np.zeros(k)
    rng = np.random.default_rng(seed)
    for s, ns in zip(sets, n, strict=True):
        if s == 0 or ns == 0:
            continue
        members = np.flatnonzero((s >> np.arange(k, dtype=np.int64)) & 1)
        conv[members] += ns * _set_shapley(members, worth, rng, False)
        val[members] += ns * _set_shapley(members, worth, rng, True)
    base = float(worth(np.array([0]))[0])
    info = {"baseline_rate": base, "baseline_observed": worth.observed(0),
            "baseline_conversions": float(base * p.journeys.sum()), "channel_sets": len(sets)}
    return pd.DataFrame({"channel": p.channels, "conversions": conv, "value": val}), info


# -- which model the data supports -------------------------------------------------------------

def _logloss(p: np.ndarray, conv: np.ndarray, null: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-(conv @ np.log(p) + null @ np.log1p(-p)) / (conv.sum() + null.sum()))


def _shrunk(num: np.ndarray, den: np.ndarray, prior: float) -> np.ndarray:
    return (num + SHRINK * prior) / (den + SHRINK)


def compare(p: Paths, models: tuple[str, ...], seed: int = 0, test_share: float = 0.3,
            direct: tuple[str, ...] = ("direct",)) -> pd.DataFrame:
    """Out-of-sample conversion log-loss of the predictive model behind each attribution
    model, on a random split of the journeys: the rules by a logistic regression on their
    per-journey credit weights, Markov order k by its chance of converting from the path's last
    state, Shapley by the conversion rate of the path's channel set. Lower is better; the
    constant rate is the reference. Journeys without touches get their own rate in all models."""
    from sklearn.linear_model import LogisticRegression

    if not (np.allclose(p.conversions % 1, 0) and np.allclose(p.nulls % 1, 0)):
        raise ValueError("comparing models needs whole journey counts")
    rng = np.random.default_rng(seed)
    c_te = rng.binomial(p.conversions.astype(np.int64), test_share).astype(float)
    n_te = rng.binomial(p.nulls.astype(np.int64), test_share).astype(float)
    tr = p.with_counts(p.conversions - c_te, p.nulls - n_te, p.value)
    rate = tr.conversions.sum() / tr.journeys.sum()
    empty = p.length == 0
    empty_rate = _shrunk(tr.conversions[empty].sum(), tr.journeys[empty].sum(), rate)
    rows = [{"model": "constant_rate", "log_loss": _logloss(np.full(len(p.conversions), rate), c_te, n_te)}]
    pid, _ = p.position()
    for name in models:
        if name in RULES:
            w = rule_weights(p, name, direct)
            x = sp.csr_matrix((w, (pid, p.tokens)), shape=(len(p.conversions), len(p.channels)))
            both = sp.vstack([x, x])
            y = np.r_[np.ones(len(p.conversions)), np.zeros(len(p.conversions))]
            sw = np.r_[tr.conversions, tr.nulls]
            fit = LogisticRegression(C=100.0, max_iter=1000).fit(both[sw > 0], y[sw > 0], sample_weight=sw[sw > 0])
            pred = fit.predict_proba(x)[:, 1]
        elif name in MARKOV:
            ch = chain(tr, int(name[-1]))
            at = ch.last >= 0
            pred = np.full(len(p.conversions), rate)
            s = ch.last[at]
            pred[at] = _shrunk(ch.conv[s], ch.conv[s] + ch.null[s], rate)
        elif name == "shapley":
            pred = SetWorth.fit(masks(tr), tr.conversions, tr.nulls, tr.value, len(p.channels))(masks(p))
        else:
            continue  # time decay needs touch times: not from a path table
        pred = np.where(empty, empty_rate, pred)
        rows.append({"model": name, "log_loss": _logloss(pred, c_te, n_te)})
    out = pd.DataFrame(rows)
    out["improvement_over_constant"] = 1 - out["log_loss"] / out["log_loss"].iloc[0]
    return out


__all__ = ["EXACT_SHAPLEY_MAX", "MARKOV", "MODELS", "RULES", "Chain", "Paths", "SetWorth", "chain", "compare",
           "markov_credit", "masks", "rule_credit", "rule_weights", "shapley_credit"]
