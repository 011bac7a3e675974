"""Mappers for the exports in ../shared/data (ad platforms, web analytics, commerce logs).

Each ``build`` returns the table mappings for one file. Column names are the exports' own.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from mercator.ingest._mapping import ColumnSource as S
from mercator.ingest._mapping import TableMapping
from mercator.ingest._readers import ROW, RawSource
from mercator.ingest.mappers._base import Mapper, concat, json_object, with_content_id


# -- Facebook Ads (Kaggle "clicks conversion tracking" export) ------------------------------
def _facebook(raw: RawSource, date: str = "2017-01-01") -> list[TableMapping]:
    # The export has no dates (each row is an ad's total over the campaign), so rows are
    # stored under one reporting date. Facebook counts view-through conversions, so
    # conversions may exceed clicks: that check stays off.
    return [TableMapping("ad_performance", name="facebook_ads", columns={
        "date": S(value=date), "platform": S(value="facebook"), "channel": S(value="paid_social"),
        "campaign_id": S("xyz_campaign_id"), "ad_group": S("fb_campaign_id"), "ad_id": S("ad_id"),
        "age": S("age"), "gender": S("gender"), "interest": S("interest"),
        "impressions": S("Impressions"), "clicks": S("Clicks"), "cost": S("Spent"), "currency": S(value="USD"),
        "conversions": S("Total_Conversion"), "approved_conversions": S("Approved_Conversion"),
    })]


FACEBOOK = Mapper(
    "facebook_ads", "Facebook Ads export by ad, age, gender and interest (Kaggle KAG_conversion_data.csv).",
    frozenset({"ad_id", "xyz_campaign_id", "fb_campaign_id", "Impressions", "Clicks", "Spent", "Total_Conversion"}),
    _facebook, options={"date": "reporting date for the rows, which the export lacks (default 2017-01-01)"})


# -- Google Analytics sample (Google Merchandise Store, hit level) --------------------------
_GA_ACTIONS = {"0": "page_view", "1": "product_list_click", "2": "view_item", "3": "add_to_cart",
               "4": "remove_from_cart", "5": "begin_checkout", "6": "purchase", "7": "refund",
               "8": "checkout_option"}


def _ga_prepare(t: ir.Table) -> ir.Table:
    return with_content_id(t, [c for c in t.columns if c != ROW], prefix="ga-")


def _google_analytics(raw: RawSource) -> list[TableMapping]:
    # full_visitor_id was mangled by a spreadsheet (2.82E+18) and cannot identify users;
    # the visit id is the only reliable key, so each visit stands for its own user.
    # visit_id is the visit's start time in epoch seconds; money is in micros.
    return [TableMapping("events", name="google_analytics", prepare=_ga_prepare, columns={
        "event_id": S(expr=lambda t: t._cid),
        "user_id": S(expr=lambda t: "visit-" + t.visit_id),
        "session_id": S("visit_id"),
        "ts": S(expr=lambda t: t.visit_id.try_cast("int64").as_timestamp("s")),
        "event_name": S(expr=lambda t: ibis.cases(*((t.ecommerce_action_type == k, v) for k, v in _GA_ACTIONS.items()),
                                                 else_="action_" + t.ecommerce_action_type)),
        "channel": S("channel_grouping"), "country": S("country"), "page": S("page_path_level1"),
        "value": S(expr=lambda t: t.total_transactions_revenue.try_cast("float64") / 1e6),
        "properties": S(expr=lambda t: json_object({
            "sku": t.product_sku, "product": t.v2_product_name, "category": t.v2_product_category,
            "city": t.city, "page_title": t.page_title, "transaction_id": t.transaction_id,
            "product_price": t.product_price.try_cast("float64") / 1e6})),
    })]


GOOGLE_ANALYTICS = Mapper(
    "google_analytics", "Google Analytics 360 sample, hit level (all_sessions.csv) into events.",
    frozenset({"full_visitor_id", "channel_grouping", "visit_id", "ecommerce_action_type", "page_path_level1"}),
    _google_analytics)


def _ga_products(raw: RawSource) -> list[TableMapping]:
    return [TableMapping("products", name="google_analytics_products",
                         columns={"product_id": S("sku"), "name": S("product_name")})]


GOOGLE_ANALYTICS_PRODUCTS = Mapper(
    "google_analytics_products", "Google Merchandise Store product list (products.csv) into products.",
    frozenset({"sku", "product_name", "ordered_quantity", "stock_level"}), _ga_products)


# -- UCI Online Retail (order lines) ----------------------------------------------------------
def _retail_lines(t: ir.Table) -> ir.Table:
    line = ibis.row_number().over(group_by=t.InvoiceNo, order_by=t[ROW]) + 1
    return t.mutate(_line=line)


def _retail_orders(t: ir.Table) -> ir.Table:
    amount = t.Quantity.try_cast("float64") * t.UnitPrice.try_cast("float64")
    return t.group_by("InvoiceNo").aggregate(**{
        ROW: t[ROW].min(), "customer": t.CustomerID.argmin(t[ROW]), "ts": t.InvoiceDate.min(),
        "revenue": amount.sum(), "items": t.Quantity.try_cast("int64").sum(), "country": t.Country.argmin(t[ROW])})


def _retail_products(t: ir.Table) -> ir.Table:
    return t.group_by("StockCode").aggregate(**{
        ROW: t[ROW].min(), "name": t.Description.argmax(t[ROW], where=t.Description.notnull()),
        "price": t.UnitPrice.argmax(t[ROW], where=t.UnitPrice.try_cast("float64") > 0)})


def _retail_customers(t: ir.Table) -> ir.Table:
    t = t.filter(t.CustomerID.notnull())
    return t.group_by("CustomerID").aggregate(**{
        ROW: t[ROW].min(), "created": t.InvoiceDate.min(), "country": t.Country.argmin(t[ROW])})


def _online_retail(raw: RawSource, timezone: str = "Europe/London") -> list[TableMapping]:
    # Invoices starting with 'C' are cancellations: negative quantities, stored as returns.
    # Invoice times are the UK shop's local time; they are stored in UTC.
    return [
        TableMapping("order_items", name="online_retail", prepare=_retail_lines, columns={
            "order_id": S("InvoiceNo"), "line": S("_line"), "product_id": S("StockCode"),
            "quantity": S("Quantity"), "unit_price": S("UnitPrice")}),
        TableMapping("orders", name="online_retail", prepare=_retail_orders, timezone=timezone, columns={
            "order_id": S("InvoiceNo"), "customer_id": S("customer"), "ts": S("ts"), "revenue": S("revenue"),
            "currency": S(value="GBP"), "channel": S(value="online"), "country": S("country"), "items": S("items"),
            "is_return": S(expr=lambda t: t.InvoiceNo.startswith("C"))}),
        TableMapping("products", name="online_retail", prepare=_retail_products, columns={
            "product_id": S("StockCode"), "name": S("name"), "price": S("price")}),
        TableMapping("customers", name="online_retail", prepare=_retail_customers, timezone=timezone, columns={
            "customer_id": S("CustomerID"), "created_at": S("created"), "country": S("country")}),
    ]


ONLINE_RETAIL = Mapper(
    "online_retail", "UCI Online Retail order lines into orders, order_items, products and customers.",
    frozenset({"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"}),
    _online_retail, options={"timezone": "time zone of InvoiceDate (default Europe/London)"})


# -- CDNOW transaction log --------------------------------------------------------------------
_CDNOW_MASTER = ("customer_id", "date", "number_of_cds", "dollar_value")
_CDNOW_HEADERLESS = {4: _CDNOW_MASTER, 5: ("customer_id", "sample_id", "date", "number_of_cds", "dollar_value")}


def _cdnow_prepare(t: ir.Table) -> ir.Table:
    if "customer_id" not in t.columns:  # a headerless file (CDNOW_sample.txt has 5 columns, the master 4)
        names = _CDNOW_HEADERLESS[len(t.columns) - 1]
        t = t.rename({new: f"column_{i + 1}" for i, new in enumerate(names)})
    occ = ibis.row_number().over(group_by=[t.customer_id, t.date], order_by=t[ROW]) + 1
    return t.mutate(_order=concat([t.customer_id, "-", t.date, "-", occ.cast("string")]))


def _cdnow(raw: RawSource) -> list[TableMapping]:
    # The log has no order id: a customer's n-th purchase on a day is order '<id>-<date>-<n>'.
    # The 1/10 sample the BTYD literature uses has no header and a sample id after the master id;
    # customers keep their master id, so sample and master loads agree.
    return [TableMapping("orders", name="cdnow", prepare=_cdnow_prepare, columns={
        "order_id": S("_order"), "customer_id": S("customer_id"), "ts": S("date", format="%Y%m%d"),
        "revenue": S("dollar_value"), "items": S("number_of_cds"), "currency": S(value="USD"),
        "is_return": S(value=False)})]


CDNOW = Mapper("cdnow", "CDNOW transaction log (CDNOW_master.txt with a header, or the headerless "
               "CDNOW_sample.txt / master layouts) into orders.",
               frozenset(_CDNOW_MASTER), _cdnow, read_options={"delimiter": "whitespace"},
               layouts=tuple(frozenset(f"column_{i + 1}" for i in range(n)) for n in sorted(_CDNOW_HEADERLESS)))


# -- Retentioneering e-commerce clickstream ---------------------------------------------------
def _clickstream(raw: RawSource) -> list[TableMapping]:
    return [TableMapping("events", name="retentioneering",
                         prepare=lambda t: with_content_id(t, ["user_id", "session_id", "event", "timestamp"], "rt-"),
                         columns={
        "event_id": S("_cid"), "user_id": S("user_id"), "session_id": S("session_id"), "ts": S("timestamp"),
        "event_name": S("event"), "device": S("platform"), "channel": S("acquisition_channel"),
        "properties": S(expr=lambda t: json_object({"user_cohort": t.user_cohort,
                                                    "user_lifecycle": t.user_lifecycle})),
    })]


RETENTIONEERING = Mapper(
    "retentioneering", "Retentioneering e-commerce clickstream (ecom_clickstream.csv) into events.",
    frozenset({"user_id", "session_id", "event", "timestamp", "platform", "acquisition_channel"}), _clickstream)



# -- Multi-touch attribution journey log (impressions and conversions per cookie) --------------
def _journey_log(raw: RawSource) -> list[TableMapping]:
    return [TableMapping("events", name="mta_journeys",
                         prepare=lambda t: with_content_id(t, ["customer_id", "time", "interaction", "channel"], "mta-"),
                         columns={
        "event_id": S("_cid"), "user_id": S("customer_id"), "ts": S("time"), "event_name": S("interaction"),
        "channel": S("channel"),
        "value": S(expr=lambda t: ibis.ifelse(t.conversion.cast("int64") == 1,
                                              t.conversion_value.cast("float64"), ibis.null("float64"))),
    })]


MTA_JOURNEYS = Mapper(
    "mta_journeys", "Multi-touch attribution journey log (attribution_data.csv: impressions and conversions) into "
    "events; conversions are event 'conversion'.",
    frozenset({"customer_id", "time", "interaction", "conversion", "conversion_value", "channel"}), _journey_log)

ALL = (FACEBOOK, GOOGLE_ANALYTICS, GOOGLE_ANALYTICS_PRODUCTS, ONLINE_RETAIL, CDNOW, RETENTIONEERING, MTA_JOURNEYS)
