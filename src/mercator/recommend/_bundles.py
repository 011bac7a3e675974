"""Bundles: items bought together, as association rules computed in the engine.

For every pair of items in the same order: support (share of orders with both), confidence
(share of the antecedent's orders that also hold the consequent) and lift (confidence over
the consequent's own share): the measures of Agrawal et al. (1993) and mlxtend's
``association_rules``, which the test checks them against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd

from mercator.errors import BadParameter
from mercator.recommend._data import joined, purchase_lines
from mercator.results import Finding, Result


def rules(lines: ir.Table, *, min_orders: int = 20, min_confidence: float = 0.0) -> ir.Table:
    """antecedent, consequent, orders, support, confidence, lift for pairs bought together in at
    least ``min_orders`` orders (both directions of each pair)."""
    baskets = lines.select("order_id", "product_id").distinct()
    n = baskets.order_id.nunique().as_scalar().cast("float64")
    single = baskets.group_by("product_id").aggregate(item_orders=baskets.count())
    other = baskets.view()
    pairs = baskets.join(other, (baskets.order_id == other.order_id) & (baskets.product_id != other.product_id))
    pairs = pairs.select(antecedent=baskets.product_id, consequent=other.product_id)
    counts = pairs.group_by(["antecedent", "consequent"]).aggregate(orders=pairs.count())
    counts = counts.filter(counts.orders >= min_orders)
    a = single.select(antecedent=single.product_id, a_orders=single.item_orders)
    c = single.select(consequent=single.product_id, c_orders=single.item_orders)
    t = counts.join(a, "antecedent").join(c, "consequent")
    t = t.select("antecedent", "consequent", "orders", support=t.orders / n,
                 confidence=t.orders.cast("float64") / t.a_orders,
                 lift=(t.orders.cast("float64") / t.a_orders) / (t.c_orders / n))
    return t.filter(t.confidence >= min_confidence)


@dataclass(frozen=True)
class BundlesResult(Result):
    """Items bought together (association rules), and suggestions for a basket if one was given."""

    kind = "bundles"
    title = "Bundles: bought together"
    headline = ("suggestions", "rules")
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "rules": ("antecedent_name", "consequent_name", "orders", "support", "confidence", "lift"),
        "suggestions": ("product_id", "name", "confidence", "lift", "because_of")}

    def figures(self) -> list:
        import plotly.graph_objects as go

        r = self.to_frame("rules")
        if r.empty:
            return []
        fig = go.Figure(go.Scatter(x=r.support, y=r.confidence, mode="markers",
                                   marker={"size": 8, "color": r.lift, "colorscale": "Viridis", "showscale": True,
                                           "colorbar": {"title": "lift"}},
                                   text=r.antecedent_name + " -> " + r.consequent_name))
        fig.update_layout(title="Bought together: support, confidence and lift of each rule",
                          xaxis_title="support (share of orders)", yaxis_title="confidence", xaxis_tickformat=".1%",
                          yaxis_tickformat=".0%", height=420)
        return [fig]


def bundles(ws, *, products: str | None = None, min_orders: int = 20, min_confidence: float = 0.1,
            top: int = 50, basket: Sequence[str] = ()) -> BundlesResult:
    """The ``top`` rules by lift among pairs bought together in at least ``min_orders`` orders with
    at least ``min_confidence``; with ``basket`` (product ids), what to add to it."""
    if min_orders < 1 or not 0 <= min_confidence <= 1:
        raise BadParameter("min_orders must be at least 1 and min_confidence between 0 and 1")
    lines = ws.engine.materialize(purchase_lines(ws, products=products))
    try:
        r = rules(lines, min_orders=min_orders, min_confidence=min_confidence)
        names = ws.table("products").select(product_id=ibis._.product_id.cast("string"), name=ibis._.name)
        order = [ibis.desc("lift"), ibis.desc("orders"), "antecedent", "consequent"]
        table = _named(r.order_by(order).limit(top), names).order_by(order).to_pyarrow().to_pandas()
        suggestions = pd.DataFrame(columns=["product_id", "name", "confidence", "lift", "because_of"])
        if basket:
            inside = [str(b) for b in basket]
            s = r.filter(r.antecedent.isin(inside) & ~r.consequent.isin(inside))
            s = s.group_by("consequent").aggregate(confidence=s.confidence.max(), lift=s.lift.max(),
                                                   because_of=s.antecedent.arbitrary())
            s = s.order_by([ibis.desc(s.confidence), s.consequent]).limit(10)
            s = joined(s.rename(product_id="consequent"), names, ["product_id"])
            s = s.select("product_id", "name", "confidence", "lift", "because_of")
            suggestions = s.to_pyarrow().to_pandas()
    finally:
        ws.engine.release(lines)
    findings = []
    if len(table):
        t = table.iloc[0]
        findings.append(Finding(f"The strongest bundle: {t.antecedent_name or t.antecedent} -> "
                                f"{t.consequent_name or t.consequent}: in {int(t.orders):,} orders, bought together "
                                f"{t.lift:.1f}x as often as chance; {t.confidence:.0%} of orders with the first "
                                "hold the second.", metric="lift", value=float(t.lift), impact=1.0))
    else:
        findings.append(Finding(f"No pair of items is bought together in {min_orders} orders or more with "
                                f"confidence {min_confidence:.0%}: lower --min-orders or --min-confidence."))
    if basket:
        findings.append(Finding(f"{len(suggestions)} suggestions for a basket of {len(basket)} items.", impact=0.5))
    return BundlesResult(tables={"suggestions": suggestions, "rules": table}, findings=tuple(findings),
                         params={"products": products, "min_orders": min_orders, "min_confidence": min_confidence,
                                 "top": top, "basket": list(basket)})


def _named(r: ir.Table, names: ir.Table) -> ir.Table:
    r = joined(r, names.select(antecedent=names.product_id, antecedent_name=names.name), ["antecedent"])
    return joined(r, names.select(consequent=names.product_id, consequent_name=names.name), ["consequent"])
