"""A fitted recommender: every known customer's ranked candidates per protocol, computed once
at fit time (the ranker's scores and their calibrated probabilities, with the evidence for
each), the fallbacks for customers it does not know, and the rules applied when a list is
asked for (exclusions, at most N per category, margin-aware order). Asking for one customer is
a dictionary lookup and a walk down at most 100 rows, so it answers in microseconds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mercator.errors import BadParameter

KEEP = 100  # candidates kept per customer and protocol


@dataclass
class Recommender:
    asof: dt.datetime
    config: dict
    lists: dict[str, pd.DataFrame]  # per protocol: customer_id, product_id, score, p, reason (ranked)
    popular: pd.DataFrame  # product_id, score: popular in the last 30 days
    products: pd.DataFrame  # product_id, name, category, price, margin
    segments: dict[str, str] = field(default_factory=dict)  # customer -> segment
    segment_popular: dict[str, list[str]] = field(default_factory=dict)
    bought: dict[str, set[str]] = field(default_factory=dict)  # customer -> items bought (cross-sell exclusion)
    returned: dict[str, set[str]] = field(default_factory=dict)  # customer -> items returned
    _offsets: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        for protocol, frame in self.lists.items():
            frame = frame.sort_values(["customer_id", "rank"], kind="stable").reset_index(drop=True)
            self.lists[protocol] = frame
            ids = frame.customer_id.to_numpy()
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], int)
            ends = np.r_[starts[1:], len(ids)]
            self._offsets[protocol] = {ids[s]: (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}
        self._arrays = {p: {c: f[c].to_numpy(dtype=object) for c in ("product_id", "score", "p", "reason")}
                        for p, f in self.lists.items()}
        self._popular = list(self.popular.product_id)
        info = self.products.set_index("product_id")
        self._category = info["category"].to_dict() if "category" in info else {}
        self._margin = info["margin"].to_dict() if "margin" in info else {}
        self._price = info["price"].to_dict() if "price" in info else {}
        self._name = info["name"].to_dict() if "name" in info else {}

    _DERIVED = ("_offsets", "_arrays", "_popular", "_category", "_margin", "_price", "_name")

    def __getstate__(self) -> dict:  # the lookups are derived from the lists: rebuilt on load, not saved
        return {k: v for k, v in self.__dict__.items() if k not in self._DERIVED}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._offsets = {}
        self._index()

    @property
    def customers(self) -> int:
        return len(self.known_customers)

    @property
    def known_customers(self) -> list[str]:
        """The customers with a personalized list (a purchase before the model's date)."""
        return list(self._offsets.get("repeat") or next(iter(self._offsets.values()), {}))

    def recommend(self, customer_id: str, *, protocol: str = "repeat", k: int = 10, per_category: int | None = None,
                  margin_aware: bool = False, exclude: set[str] | frozenset = frozenset(),
                  personalized: bool = True) -> tuple[pd.DataFrame, str]:
        """The customer's top ``k`` under the rules, and why this list (personalized, or which fallback)."""
        if protocol not in self.lists:
            raise BadParameter(f"unknown protocol {protocol!r}; use {' or '.join(self.lists)}")
        if k < 1:
            raise BadParameter("k must be at least 1")
        customer_id = str(customer_id)
        skip = [set(exclude), self.returned.get(customer_id, ())]
        if protocol == "cross-sell":
            skip.append(self.bought.get(customer_id, ()))
        span = self._offsets[protocol].get(customer_id) if personalized else None
        rows: list[tuple] = []
        if span is not None:
            cols = self._arrays[protocol]
            part = slice(*span)
            candidates = list(zip(cols["product_id"][part], cols["score"][part], cols["p"][part],
                                  cols["reason"][part], strict=True))
            if margin_aware:
                candidates = self._by_expected_margin(candidates)
            rows = self._pick(candidates, k, skip, per_category)
            why = "personalized: the ranker's order of the customer's candidates" + (
                " by expected margin (probability x price x margin)" if margin_aware else "")
        if not personalized:
            why = "not personalized: the customer has not consented to personalization; popular in the last 30 days"
        elif span is None:
            why = ("cold customer: no purchases before the model's date" if customer_id not in self.returned
                   else "no purchases kept (only returns)")
        if len(rows) < k:  # fill from the fallbacks, each row saying which
            seg = self.segments.get(customer_id) if personalized else None
            fills = []
            if seg and seg in self.segment_popular:
                fills += [(p, None, None, f"popular in segment {seg}") for p in self.segment_popular[seg]]
                if span is None:
                    why = f"cold customer: popular in their segment ({seg}), then in the last 30 days"
            fills += [(p, None, None, "popular in the last 30 days") for p in self._popular]
            rows += self._pick(fills, k - len(rows), [*skip, {r[0] for r in rows}], per_category,
                               start=[self._category.get(r[0]) for r in rows])
        out = pd.DataFrame({"rank": np.arange(1, len(rows) + 1), "product_id": [r[0] for r in rows],
                            "score": [r[1] for r in rows], "p": [r[2] for r in rows],
                            "reason": [r[3] for r in rows], "name": [self._name.get(r[0]) for r in rows],
                            "category": [self._category.get(r[0]) for r in rows]})
        return out, why

    def _by_expected_margin(self, candidates: list[tuple]) -> list[tuple]:
        """Ordered by expected margin: probability of purchase x price x margin (a share of price)."""
        value = [(self._margin.get(c[0]), self._price.get(c[0])) for c in candidates]
        if all(m is None or pd.isna(m) or pr is None or pd.isna(pr) for m, pr in value):
            raise BadParameter("margin-aware ranking needs products.price and products.margin, and no candidate "
                               "has both")
        scored = [(c[0], float(np.nan_to_num(c[2]) * np.nan_to_num(m) * np.nan_to_num(pr)), c[2], c[3])
                  for c, (m, pr) in zip(candidates, value, strict=True)]
        return sorted(scored, key=lambda c: -c[1])

    def _pick(self, rows: list[tuple], k: int, skip: list, per_category: int | None, start: list | None = None
              ) -> list[tuple]:
        """The first ``k`` of ``rows`` (product_id, score, p, reason) not in any of ``skip`` and
        within ``per_category``."""
        counts: dict = {}
        for c in start or []:
            counts[c] = counts.get(c, 0) + 1
        out, taken = [], set()
        for r in rows:
            if len(out) >= k:
                break
            p = r[0]
            if p in taken or any(p in s for s in skip):
                continue
            cat = self._category.get(p)
            if per_category is not None and cat is not None and counts.get(cat, 0) >= per_category:
                continue
            counts[cat] = counts.get(cat, 0) + 1
            taken.add(p)
            out.append(r)
        return out

    def batch(self, *, protocol: str = "repeat", k: int = 10, per_category: int | None = None,
              exclude: set[str] | frozenset = frozenset()) -> pd.DataFrame:
        """Every known customer's top ``k`` under the rules, as one frame (customer_id, rank,
        product_id, score, p, reason), filled from the recent-popular list where short; no
        product of ``exclude`` (out of stock)."""
        if protocol not in self.lists:
            raise BadParameter(f"unknown protocol {protocol!r}; use {' or '.join(self.lists)}")
        f = self.lists[protocol][["customer_id", "product_id", "score", "p", "reason"]]
        if exclude:
            f = f[~f.product_id.isin(list(exclude))]
        f = _without(f, self.returned)
        f = self._diverse(f, per_category).groupby("customer_id", sort=False).head(k)
        have = f.groupby("customer_id").size()
        short = have[have < k]
        if len(short):
            pop = self.popular.product_id[~self.popular.product_id.isin(list(exclude))].head(3 * k).to_numpy()
            fill = pd.DataFrame({"customer_id": np.repeat(short.index.to_numpy(), len(pop)),
                                 "product_id": np.tile(pop, len(short)), "score": np.nan, "p": np.nan,
                                 "reason": "popular in the last 30 days"})
            fill = _without(fill, self.returned)
            if protocol == "cross-sell":
                fill = _without(fill, self.bought)
            fill = fill.merge(f[["customer_id", "product_id"]], how="left", indicator=True)
            fill = fill[fill.pop("_merge") == "left_only"]
            f = pd.concat([f, fill], ignore_index=True)
            f = self._diverse(f, per_category).groupby("customer_id", sort=False).head(k)
        f = f.sort_values("customer_id", kind="stable").reset_index(drop=True)
        f.insert(1, "rank", f.groupby("customer_id").cumcount() + 1)
        return f

    def _diverse(self, f: pd.DataFrame, per_category: int | None) -> pd.DataFrame:
        if per_category is None:
            return f
        cat = f.product_id.map(self._category)
        nth = f.assign(_c=cat.fillna("")).groupby(["customer_id", "_c"], sort=False).cumcount()
        return f[cat.isna() | (nth < per_category)]


def _without(f: pd.DataFrame, pairs: dict[str, set[str]]) -> pd.DataFrame:
    """``f`` without the (customer, product) pairs in ``pairs``."""
    if not pairs:
        return f
    drop = pd.Series({c: list(p) for c, p in pairs.items()}).explode()
    drop = pd.DataFrame({"customer_id": drop.index.astype(str), "product_id": drop.to_numpy().astype(str)})
    m = f.merge(drop, how="left", on=["customer_id", "product_id"], indicator=True)
    return f[(m.pop("_merge") == "left_only").to_numpy()]
