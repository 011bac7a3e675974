"""Next best offer: per customer, the offer with the highest expected incremental value.

An offer (the ``offers`` table, or a file with its columns) is a product, a category or the
next order at a discount, with a cost per customer offered, a rule saying who is eligible and
dates saying when. Its effect per customer comes from the best evidence there is, in order:

- ``uplift``: the experiment that tested the offer (``experiment_id``, its ``variant`` against
  ``control``). An uplift learner fitted on the experiment's units gives the incremental
  purchase probability ``tau`` and the purchase probability with the offer ``p``;
- ``propensity``: a saved ``mercator target train`` model of responding to the offer gives
  ``p``; every response is counted as caused by the offer (``tau = p``), which overstates the
  value by the customers who would have bought anyway;
- ``recommender``: the fitted recommender's calibrated probability that the customer buys the
  product (or, for a category, each of its products among the customer's candidates) in the
  horizon; counted like a propensity, with the same overstatement.

Expected incremental value of making the offer (margin, not revenue):
``tau x value x margin - p x value x discount - cost``: the margin of the purchases it causes,
less the discount paid on every purchase made with it (caused or not), less the cost of making
it. The offer with the highest value is chosen where that value is above zero; otherwise no
offer, with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mercator.errors import BadParameter, MercatorError
from mercator.results import Finding, Recommendation, Result

COLUMNS = ("offer_id", "name", "product_id", "category", "discount", "cost", "eligibility", "valid_from", "valid_to",
           "experiment_id", "variant", "propensity_model")
UNSCORED = "needs a recommender"
BASES = {"uplift": "the uplift measured in its experiment",
         "propensity": "a propensity model of responding (not incremental: counts customers who would buy anyway)",
         "recommender": "the recommender's purchase probability (not incremental: counts customers who would buy "
                        "anyway)"}


@dataclass(frozen=True)
class OfferChoices(Result):
    """Per customer, the offer to make (or none) with its expected incremental value and the
    reasons; per offer, how many got it and what it is expected to bring."""

    kind = "next_best_offers"
    title = "Next best offer"
    headline = ("offers", "choices")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "offers": ("offer_id", "basis", "status", "eligible", "chosen", "expected_value"),
        "choices": ("customer_id", "offer_id", "expected_value", "basis", "reason"),
        "considered": ("offer_id", "status", "eligible", "why_not", "expected_value")}
    #: every customer's choice (``choices`` holds the first rows); the CLI writes it with --output
    all_choices: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def figures(self) -> list:
        o = self.to_frame("offers")
        if o.empty or not o["chosen"].sum():
            return []
        fig = go.Figure()
        fig.add_bar(x=o["offer_id"], y=o["expected_value"], name="expected incremental value",
                    text=[f"{n:,} customers" for n in o["chosen"]], textposition="outside")
        fig.update_layout(title="Next best offer: expected incremental value of each offer where it is chosen",
                          xaxis_title="offer", yaxis_title="expected value (margin)", height=380)
        return [fig]


def read_offers(ws, source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """The offers: the workspace's ``offers`` table, a CSV/Parquet file or a DataFrame with its
    columns, checked (every problem names the source, the row and the column)."""
    from mercator.frames import read_table

    name = "offers table" if source is None else (str(source) if not isinstance(source, pd.DataFrame) else "offers")
    frame = read_table(ws, "offers" if source is None else source)
    if "offer_id" not in frame.columns:
        raise MercatorError(f"{name}: no offer_id column (columns: {', '.join(map(str, frame.columns))})")
    if frame.empty:
        raise MercatorError(f"{name}: no offers; load some with `mercator ingest FILE --table offers`")
    frame = frame.reindex(columns=list(dict.fromkeys([*COLUMNS, *frame.columns]))).reset_index(drop=True)
    row = frame.index + 2  # a file's first data row is row 2
    dup = frame.offer_id.duplicated(keep=False)
    if dup.any():
        raise MercatorError(f"{name}, row {row[dup][0]}, column offer_id: {frame.offer_id[dup].iloc[0]!r} appears "
                            f"{int((frame.offer_id == frame.offer_id[dup].iloc[0]).sum())} times")
    for col, low, high in (("discount", 0.0, 1.0), ("cost", 0.0, np.inf)):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = (values.isna() & frame[col].notna()) | (values < low) | (values > high)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MercatorError(f"{name}, row {row[i]}, column {col}: {_cell(frame[col].iloc[i])} is not a number "
                                f"from {low:g} to {high:g}")
        frame[col] = values.fillna(0.0)
    for col in ("valid_from", "valid_to"):
        days = pd.to_datetime(frame[col], errors="coerce")
        bad = days.isna() & frame[col].notna() & (frame[col].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MercatorError(f"{name}, row {row[i]}, column {col}: {_cell(frame[col].iloc[i])} is not a date")
        frame[col] = pd.Series([None if pd.isna(d) else d.date() for d in days], index=frame.index, dtype=object)
    empty = frame.product_id.isna() & frame.category.isna()
    untested = frame.experiment_id.isna() & frame.propensity_model.isna()
    if (empty & untested).any():
        i = int(np.flatnonzero(empty & untested)[0])
        raise MercatorError(f"{name}, row {row[i]}, offer {frame.offer_id.iloc[i]!r}: an offer on the next order "
                            "(no product_id or category) needs an experiment_id or a propensity_model; the "
                            "recommender scores products")
    frame["offer_id"] = frame.offer_id.astype(str)
    return frame


def _cell(value) -> str:
    """A cell as an error quotes it: text in quotes, numbers as they are."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def next_best_offers(ws, model=None, *, offers: str | Path | pd.DataFrame | None = None,
                     customer_id: str | None = None, as_of: dt.date | str | None = None,
                     purpose: str | None = "personalization", suppress_segments=(),
                     incrementality: float = 1.0, learner: str = "x_learner", preview: int = 20,
                     seed: int = 0) -> OfferChoices:
    """Per customer with a purchase or a profile (or just ``customer_id``), the offer with the
    highest expected incremental value (module docstring), among the offers valid on ``as_of``
    (default: the recommender ``model``'s date, else the last purchase) whose eligibility rule
    the customer meets. ``incrementality`` is the share of an untested offer's purchases
    (propensity or recommender) taken as caused by it: 1 counts them all (an upper bound); a
    past test of a similar offer says better. People without consent to ``purpose`` or in
    ``suppress_segments`` get no offer (the one targeting filter), and are counted."""
    from mercator.govern import eligible_frame
    from mercator.recommend._analysis import out_of_stock

    if not 0 <= incrementality <= 1:
        raise BadParameter(f"incrementality must be from 0 to 1; got {incrementality}")
    table = read_offers(ws, offers)
    known = _Known.of(ws, model)
    day = _day(as_of) if as_of is not None else known.asof
    feats = _features(ws, known, day)
    people = pd.DataFrame({"customer_id": [str(customer_id)] if customer_id is not None else feats.customer_id})
    kept, removed = eligible_frame(ws, people, id_col="customer_id", purpose=purpose,
                                   suppress_segments=suppress_segments)
    feats = kept.merge(feats, on="customer_id", how="left")
    status = _status(table, day)
    unavailable = out_of_stock(ws)
    status[(status == "valid") & table.product_id.isin(list(unavailable))] = "out of stock"
    if known.model is None:  # an untested offer is valued from the recommender's probabilities
        status[(status == "valid") & table.experiment_id.isna() & table.propensity_model.isna()] = UNSCORED
    estimates, notes, evidence = [], [], {}
    for _, offer in table[status == "valid"].iterrows() if len(feats) else ():
        est, note = _estimate(ws, known, offer, feats, incrementality, learner, seed, evidence, unavailable)
        estimates.append(est)
        notes += note
    long = pd.concat(estimates, ignore_index=True) if estimates else pd.DataFrame(
        {"customer_id": [], "offer_id": [], "basis": [], "eligible": pd.Series(dtype=bool), "why_not": [],
         "p": pd.Series(dtype=float), "tau": pd.Series(dtype=float), "expected_value": pd.Series(dtype=float)})
    choices = _choose(long, kept.customer_id)
    summary = _summary(table, status, long, choices)
    considered = None
    if customer_id is not None:  # every offer weighed for this customer, and why each was or was not chosen
        considered = summary[["offer_id", "status", "basis"]].merge(
            long.drop(columns=["basis", "customer_id"]), on="offer_id", how="left") \
            .sort_values("expected_value", ascending=False, na_position="last", ignore_index=True)
    return _result(table, summary, choices, people, kept, removed, notes, day, purpose, customer_id, preview,
                   evidence, incrementality, considered)


@dataclass
class _Known:
    """What the offers need to know beyond the customer features: from a fitted recommender, or
    read from the workspace when there is none (then only tested offers can be scored)."""

    asof: dt.date
    products: pd.DataFrame
    returned: dict
    segments: dict
    model: object = None

    @classmethod
    def of(cls, ws, model) -> _Known:
        if model is not None:
            return cls(model.asof.date(), model.products, model.returned, model.segments, model)
        from mercator.recommend._analysis import _catalogue, _grouped
        from mercator.recommend._data import returned_pairs

        last = ws.table("orders").ts.max().execute()
        if last is None or pd.isna(last):
            raise MercatorError("no orders in the workspace: offers are chosen for customers with a purchase")
        products = _catalogue(ws)
        returned = _grouped(returned_pairs(ws).to_pyarrow().to_pandas()) if ws.count("order_items") else {}
        return cls(pd.Timestamp(last).date(), products, returned, {})


def _day(value) -> dt.date:
    try:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise BadParameter(f"as-of: {value!r} is not a date (YYYY-MM-DD)") from exc


def _status(table: pd.DataFrame, day: dt.date) -> pd.Series:
    start, end, now = pd.to_datetime(table.valid_from), pd.to_datetime(table.valid_to), pd.Timestamp(day)
    return pd.Series(np.where(start > now, "not started", np.where(end < now, "ended", "valid")), index=table.index)


def _features(ws, known: _Known, day: dt.date) -> pd.DataFrame:
    """One row per customer with a purchase up to ``day`` or a profile: behaviour and profile
    (what eligibility rules and uplift models read), and the recommender's segment."""
    from mercator.target import customer_frame

    feats = customer_frame(ws, day)
    feats["customer_id"] = feats.customer_id.astype(str)
    feats["segment"] = feats.customer_id.map(known.segments)
    return feats.sort_values("customer_id", ignore_index=True)


def _estimate(ws, known: _Known, offer: pd.Series, feats: pd.DataFrame, incrementality: float, learner: str,
              seed: int, evidence: dict, unavailable: frozenset[str]) -> tuple[pd.DataFrame, list[Finding]]:
    """Per customer: eligible or why not, and p, tau and the expected value of making ``offer``."""
    oid = offer.offer_id
    out = pd.DataFrame({"customer_id": feats.customer_id, "offer_id": oid})
    ok = _eligible(offer, feats)
    why_not = np.where(ok, "", f"not eligible: {offer.eligibility}")
    if pd.notna(offer.product_id):
        returned = feats.customer_id.map(lambda c: offer.product_id in known.returned.get(c, ())).to_numpy(bool)
        why_not = np.where(ok & returned, "returned the product before", why_not)
        ok &= ~returned
    value, margin, notes = _value(known.products, offer)
    if pd.notna(offer.experiment_id):
        fit, spend = _uplift(ws, offer, learner, seed, evidence)
        tau, p = fit.uplift(feats), fit.treated_probability(feats)
        basis = "uplift"
        value = spend if value is None else value
        gain = tau * value * margin - p * value * offer.discount
    elif pd.notna(offer.propensity_model):
        p = _propensity(offer, feats)
        tau, basis = incrementality * p, "propensity"
        value = _order_value(ws) if value is None else value
        gain = tau * value * margin - p * value * offer.discount
    else:
        p, gain = _from_recommender(known.model, offer, feats, incrementality, unavailable)
        tau, basis = incrementality * p, "recommender"
    out["basis"] = basis
    out["eligible"] = ok
    out["why_not"] = why_not
    out["p"], out["tau"] = p, tau
    out["expected_value"] = np.where(ok, gain - offer.cost, np.nan)
    return out, notes


def _eligible(offer: pd.Series, feats: pd.DataFrame) -> np.ndarray:
    rule = offer.eligibility
    if pd.isna(rule) or not str(rule).strip():
        return np.ones(len(feats), bool)
    try:
        hit = feats.eval(str(rule))
    except Exception as exc:  # pandas raises many kinds for a bad expression: name the offer and the rule
        raise MercatorError(f"offer {offer.offer_id!r}, column eligibility: the rule {rule!r} does not evaluate "
                            f"on customer features ({exc}); it can use "
                            f"{', '.join(c for c in feats.columns if c != 'customer_id')}") from exc
    return np.asarray(pd.Series(hit).fillna(False), dtype=bool)  # a missing feature is not eligible


def _value(cat: pd.DataFrame, offer: pd.Series) -> tuple[float | None, float, list[Finding]]:
    """The offer's value per purchase (the price, a category's mean price; None for the next
    order, valued by the caller) and margin (share of price), from the catalogue ``cat``."""
    if pd.notna(offer.product_id):
        items = cat[cat.product_id == offer.product_id]
        if items.empty:
            raise MercatorError(f"offer {offer.offer_id!r}, column product_id: {offer.product_id!r} is not in the "
                                "products table")
    elif pd.notna(offer.category):
        items = cat[cat.category == offer.category]
        if items.empty:
            raise MercatorError(f"offer {offer.offer_id!r}, column category: no product of category "
                                f"{offer.category!r} in the products table")
    else:
        items = cat
    price = float(items.price.mean()) if items is not cat and items.price.notna().any() else None
    if items.margin.notna().any():
        return price, float(items.margin.mean()), []
    return price, 1.0, [Finding(f"Offer {offer.offer_id}: the products table has no margin, so its value is counted "
                                "in revenue, not margin.", impact=0.3)]


def _order_value(ws) -> float:
    """The mean revenue of a purchase (the value of a next-order offer without an experiment)."""
    o = ws.table("orders")
    mean = o.filter(~o.is_return.fill_null(False)).revenue.mean().execute()
    return float(mean) if mean is not None and np.isfinite(mean) else 0.0


def _uplift(ws, offer: pd.Series, learner: str, seed: int, evidence: dict):
    """The uplift learner of the offer's experiment (fitted once per experiment and variant),
    and the revenue per buying unit of its treated arm (the value of a next-order offer)."""
    from mercator.target import experiment_frame, fit_uplift

    variant = offer.variant if pd.notna(offer.variant) else "treatment"
    key = (offer.experiment_id, variant)
    if key not in evidence:
        frame = experiment_frame(ws, offer.experiment_id)
        fit = fit_uplift(frame, treatment_col="variant", treated=variant, control="control", outcome="converted",
                         exclude=["unit_id", "orders", "revenue"], learner=learner, seed=seed,
                         source=f"offer {offer.offer_id!r}, experiment {offer.experiment_id!r}")
        buyers = frame[(frame.variant.astype(str) == variant) & (frame.converted.astype(bool))]
        spend = float(buyers.revenue.mean()) if len(buyers) else 0.0
        evidence[key] = (fit, spend)
    return evidence[key]


def _propensity(offer: pd.Series, feats: pd.DataFrame) -> np.ndarray:
    from mercator.target import score_frame

    return score_frame(offer.propensity_model, feats,
                       source=f"offer {offer.offer_id!r}, column propensity_model (scored on customer features)")


def _from_recommender(model, offer: pd.Series, feats: pd.DataFrame, incrementality: float,
                      unavailable: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: the probability of buying the offer's product (any of its category's in
    stock), and the expected value of the purchases, from the customer's ranked candidates (a
    product not among them is taken as not bought: it ranked below 100): per product,
    ``p x price x (incrementality x margin - discount)``."""
    cands = model.lists["repeat"][["customer_id", "product_id", "p"]]
    cands = cands[~cands.product_id.isin(list(unavailable))]
    info = model.products.set_index("product_id")
    if pd.notna(offer.product_id):
        cands = cands[cands.product_id == offer.product_id]
    else:
        cands = cands[cands.product_id.map(info["category"]) == offer.category]
    margin = info["margin"].fillna(1.0) if "margin" in info else 1.0
    net = info["price"].fillna(0) * (incrementality * margin - offer.discount)
    cands = cands.assign(p=cands.p.astype(float).fillna(0), gain=lambda f: f.p * f.product_id.map(net).fillna(0),
                         miss=lambda f: np.log1p(-f.p.clip(upper=1 - 1e-9)))
    per = cands.groupby("customer_id").agg(gain=("gain", "sum"), miss=("miss", "sum"))
    per = per.reindex(feats.customer_id.to_numpy())
    return (1 - np.exp(per["miss"].fillna(0).to_numpy())), per["gain"].fillna(0).to_numpy()


def _choose(long: pd.DataFrame, customers: pd.Series) -> pd.DataFrame:
    """Per customer: the eligible offer of highest expected value if above zero, the runner-up,
    and the reason in words."""
    ranked = long[long.eligible.astype(bool)].sort_values(["customer_id", "expected_value", "offer_id"],
                                             ascending=[True, False, True], kind="stable")
    nth = ranked.groupby("customer_id").cumcount()
    best = ranked[nth == 0].set_index("customer_id")
    second = ranked[nth == 1].set_index("customer_id")
    out = pd.DataFrame({"customer_id": customers.astype(str).to_numpy()})
    b = best.reindex(out.customer_id)
    s = second.reindex(out.customer_id)
    positive = (b.expected_value > 0).to_numpy()
    out["offer_id"] = np.where(positive, b.offer_id, None)
    out["expected_value"] = np.where(positive, b.expected_value, np.nan)
    out["basis"] = np.where(positive, b.basis, None)
    out["p"] = np.where(positive, b.p, np.nan)
    out["tau"] = np.where(positive, b.tau, np.nan)
    out["runner_up"] = np.where(positive, s.offer_id, b.offer_id)
    out["runner_up_value"] = np.where(positive, s.expected_value, b.expected_value)
    has_any = b.offer_id.notna().to_numpy()
    reason = np.where(
        positive,
        "highest expected value (" + b.basis.fillna("").to_numpy().astype(str) + ")",
        np.where(has_any, "no offer: no eligible offer is expected to pay for itself",
                 "no offer: not eligible for any valid offer"))
    out["reason"] = reason
    return out


def _summary(table: pd.DataFrame, status: pd.Series, long: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    chosen = choices.groupby("offer_id").agg(chosen=("customer_id", "size"), expected_value=("expected_value", "sum"),
                                             mean_tau=("tau", "mean"))
    per = long.groupby("offer_id").agg(eligible=("eligible", "sum"), basis=("basis", "first"))
    out = table[["offer_id", "name", "product_id", "category", "discount", "cost", "valid_from", "valid_to"]] \
        .assign(status=status.to_numpy())
    out = out.merge(per, on="offer_id", how="left").merge(chosen, on="offer_id", how="left")
    kind = np.where(table.experiment_id.notna(), "uplift",
                    np.where(table.propensity_model.notna(), "propensity", "recommender"))
    out["basis"] = out.basis.fillna(pd.Series(kind, index=out.index))
    for col in ("eligible", "chosen", "expected_value"):
        out[col] = pd.to_numeric(out[col]).fillna(0).astype(float if col == "expected_value" else int)
    return out.sort_values(["expected_value", "offer_id"], ascending=[False, True], ignore_index=True)


def _when(day) -> str:
    return "any time" if pd.isna(day) else pd.Timestamp(day).date().isoformat()


def _result(table, summary, choices, people, kept, removed, notes, day, purpose, customer_id, preview,
            evidence, incrementality, considered) -> OfferChoices:
    made = choices[choices.offer_id.notna()]
    total = float(made.expected_value.sum())
    causal = float(made.loc[made.basis == "uplift", "expected_value"].sum())
    findings, advice = [], []
    if customer_id is not None:
        row = choices.iloc[0] if len(choices) else None
        if row is None:
            text = f"{customer_id}: no personalized offer: not consented to {purpose} or suppressed."
        elif row.offer_id is None:
            text = f"{customer_id}: {row.reason}."
        else:
            text = (f"{customer_id}: offer {row.offer_id}, expected value {row.expected_value:.2f} ({BASES[row.basis]}"
                    f"; p {row.p:.3f}, incremental {row.tau:+.3f})"
                    + (f"; runner-up {row.runner_up} ({row.runner_up_value:.2f})" if pd.notna(row.runner_up) else "")
                    + ".")
        findings.append(Finding(text, metric="expected_value", value=float(made.expected_value.sum()), impact=1.0))
    else:
        findings.append(Finding(
            f"{len(made):,} of {len(people):,} customers get an offer, expected incremental value {total:,.2f} in "
            f"total ({causal:,.2f} of it measured by experiments); {len(kept) - len(made):,} get none because no "
            f"eligible offer pays for itself; {len(people) - len(kept):,} left out by consent and suppression"
            + (f" ({', '.join(f'{r}: {n:,}' for r, n in removed.items())})" if removed else "") + ".",
            metric="expected_value", value=total, impact=1.0))
    for _, o in summary.iterrows():
        if o.status == UNSCORED:
            findings.append(Finding(f"Offer {o.offer_id} is not scored: no experiment or propensity model tested "
                                    "it, and no recommender is fitted to value it (`mercator recommend fit`).",
                                    impact=0.4))
        elif o.status == "out of stock":
            findings.append(Finding(f"Offer {o.offer_id} is not made: {o.product_id} is out of stock.", impact=0.3))
        elif o.status != "valid":
            findings.append(Finding(f"Offer {o.offer_id} is not made: on {day} it has {o.status} (valid from "
                                    f"{_when(o.valid_from)} to {_when(o.valid_to)}).", impact=0.2))
        elif o.chosen:
            findings.append(Finding(
                f"Offer {o.offer_id}: {o.chosen:,} customers (of {o.eligible:,} eligible), expected value "
                f"{o.expected_value:,.2f}, from {BASES[o.basis]}.", metric="expected_value",
                value=float(o.expected_value), impact=0.6))
            advice.append(Recommendation(f"Make offer {o.offer_id} to the {o.chosen:,} customers chosen for it",
                                         expected_impact=float(o.expected_value), unit="margin",
                                         evidence=f"expected incremental value from {BASES[o.basis]}"))
        if o.basis != "uplift" and o.status == "valid":
            advice.append(Recommendation(
                f"Test offer {o.offer_id} in an experiment before trusting its value",
                evidence=f"its value rests on {BASES[o.basis]}"))
    for (exp, variant), (fit, _spend) in evidence.items():
        findings.append(Finding(
            f"Experiment {exp} ({variant} against control, {fit.treated_rows:,} and {fit.control_rows:,} units): "
            f"average effect {fit.ate:+.4f} on the purchase rate; the {fit.learner} spreads it over customers.",
            metric="ate", value=fit.ate, impact=0.5))
    params = {"as_of": day.isoformat(), "purpose": purpose, "customer_id": customer_id, "customers": len(people),
              "left_out": len(people) - len(kept), "offered": len(made), "expected_value": total,
              "measured_value": causal, "incrementality": incrementality}
    tables = {"offers": summary, "choices": choices.head(preview) if customer_id is None else choices}
    if considered is not None:
        tables["considered"] = considered
    return OfferChoices(tables=tables,
                        findings=tuple(findings + notes), recommendations=tuple(advice), params=params,
                        all_choices=choices)
