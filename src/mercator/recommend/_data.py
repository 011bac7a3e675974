"""What the recommender learns from: purchase lines of the workspace, cleaned in the engine,
and the customer-item interactions they add up to.

A purchase line is an item of an order with a known customer, not a return, with a positive
quantity; ``products`` (a regular expression) keeps product ids that look like products
(Online Retail's postage, fees and manual lines do not). An interaction is a customer-item
pair; its weight is the number of distinct orders it appears in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from mercator.errors import BadParameter, MercatorError


def purchase_lines(ws, *, products: str | None = None) -> ir.Table:
    """customer_id, product_id, order_id, ts, quantity, unit_price: the lines that count as purchases."""
    if ws.count("orders") == 0:
        raise MercatorError("the workspace has no orders: recommendations learn from orders and their items "
                            "(`mercator ingest` them; docs/recommend.md)")
    if ws.count("order_items") == 0:
        raise MercatorError("the workspace has orders but no order_items: recommendations need the items of each "
                            "order (load the order lines, e.g. with the online_retail mapper; docs/recommend.md)")
    o, i = ws.table("orders"), ws.table("order_items")
    lines = i.join(o, i.order_id == o.order_id).select(
        customer_id=o.customer_id.cast("string"), product_id=i.product_id.cast("string"), order_id=o.order_id,
        ts=o.ts, quantity=i.quantity, unit_price=i.unit_price, is_return=o.is_return.fill_null(False))
    keep = lines.customer_id.notnull() & ~lines.is_return & (lines.quantity > 0) & lines.product_id.notnull()
    if products:
        _check_pattern(ws, products)
        keep &= lines.product_id.re_search(products)
    return lines.filter(keep).drop("is_return")


def _check_pattern(ws, pattern: str) -> None:
    """Refuse, by name, a ``products`` pattern the engine's regular expressions cannot read
    (DuckDB's RE2 and Spark's Java differ from Python's ``re``, so the engine itself is asked)."""
    import ibis

    try:
        ws.con.execute(ibis.literal("").re_search(pattern))
    except Exception as exc:  # noqa: BLE001  (each engine raises its own error type for a bad pattern)
        raise BadParameter(f"products {pattern!r} is not a regular expression the engine can read: "
                           f"{str(exc).splitlines()[0][:200]}") from None


def returned_pairs(ws) -> ir.Table:
    """customer_id, product_id of every item a customer returned (never recommended again to them)."""
    o, i = ws.table("orders"), ws.table("order_items")
    lines = i.join(o, i.order_id == o.order_id)
    back = lines.filter(lines.is_return.fill_null(False) | (lines.quantity < 0))
    return back.select(customer_id=back.customer_id.cast("string"), product_id=back.product_id.cast("string")).distinct()


def interactions(lines: ir.Table) -> ir.Table:
    """customer_id, product_id, orders (distinct), quantity, first_ts, last_ts per pair."""
    return lines.group_by(["customer_id", "product_id"]).aggregate(
        orders=lines.order_id.nunique(), quantity=lines.quantity.sum(), first_ts=lines.ts.min(),
        last_ts=lines.ts.max())


@dataclass(frozen=True)
class Window:
    """Lines before ``asof`` are the history; with ``until``, lines in [asof, until) are the outcome."""

    asof: dt.datetime
    until: dt.datetime | None = None

    def history(self, lines: ir.Table) -> ir.Table:
        return lines.filter(lines.ts < ibis.literal(self.asof))

    def outcome(self, lines: ir.Table) -> ir.Table:
        t = lines.filter(lines.ts >= ibis.literal(self.asof))
        return t if self.until is None else t.filter(t.ts < ibis.literal(self.until))


def joined(t: ir.Table, other: ir.Table, keys: list[str]) -> ir.Table:
    """``t`` with ``other``'s columns (other than the keys) where the keys match (a left join
    that keeps ``t``'s column names)."""
    j = t.left_join(other, keys)
    return j.select(*[t[c] for c in t.columns], *[other[c] for c in other.columns if c not in keys])


def as_datetime(value: dt.date | dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value.replace(tzinfo=None)
