"""The canonical data model, declared once.

Validation at ingest, the engine DDL (``TableSpec.ibis_schema``) and ``docs/data-model.md``
(``mercator schema docs``) all come from these declarations. Change a table here and
regenerate the docs; ``tests/schema`` fails while they disagree.
"""

from __future__ import annotations

from mercator.errors import SchemaError
from mercator.schema._activation import (
    ALERT_EVENTS,
    ALERTS,
    AUDIT,
    CREATIVES,
    DASHBOARD_PAGES,
    DECISIONS,
    MONITOR_CONFIG,
    OBJECTIVES,
    OPTIMIZATIONS,
    PLAYBOOK,
    POLICIES,
    REWARDS,
    SIGNOFFS,
    SILENCES,
)
from mercator.schema._model import Column, RowCheck, TableSpec

C = Column

# Dimensions that identify an ad_performance row. A dimension the source does not report is
# null (shown as NOT_SET, "(not set)", in breakdowns); keys match null to null. Null rather
# than a filler string because the engines store an all-null column almost for free, while
# a constant string costs a third of a second per column and 5M rows to write in DuckDB.
_AD_DIMENSIONS = (
    C("platform", "string", "Ad platform that reported the row (facebook, google_ads, ...).", nullable=False),
    C("channel", "string", "Marketing channel (paid_social, paid_search, display, video, ...)."),
    C("campaign_id", "string", "Platform's campaign id."),
    C("campaign", "string", "Campaign name."),
    C("ad_group", "string", "Ad group or ad set id."),
    C("ad_id", "string", "Ad id."),
    C("creative_id", "string", "Creative id."),
    C("device", "string", "Device class (desktop, mobile, tablet)."),
    C("country", "string", "Country name or ISO code."),
    C("region", "string", "Region within the country."),
    C("audience", "string", "Audience or targeting segment."),
    C("age", "string", "Age band targeted or reported."),
    C("gender", "string", "Gender targeted or reported."),
    C("interest", "string", "Interest category targeted."),
)

AD_PERFORMANCE = TableSpec(
    name="ad_performance",
    description="Delivery and results of ads per day and dimension, as ad platforms export them.",
    columns=(
        C("date", "date", "Day of delivery (in the account's time zone).", nullable=False),
        C("hour", "int64", "Hour of the day, for hourly exports (Google Ads segments.hour); empty for daily rows.",
          min=0, max=23),
        *_AD_DIMENSIONS,
        C("impressions", "int64", "Times an ad was shown.", unit="count", min=0),
        C("clicks", "int64", "Clicks (interactions) on the ad.", unit="count", min=0),
        C("cost", "float64", "Spend.", unit="currency", min=0),
        C("currency", "string", "ISO 4217 code of cost and conversion_value.", default="USD", codes="iso4217"),
        C("conversions", "float64", "Conversions the platform attributes to the ad.", unit="count", min=0),
        C("conversion_value", "float64", "Value of those conversions.", unit="currency", min=0),
        C("approved_conversions", "float64", "Conversions confirmed downstream (e.g. purchases among enquiries).",
          unit="count", min=0),
        C("sessions", "int64", "Landing-page sessions from the ad, where web analytics joins them.", unit="count",
          min=0),
        C("bounces", "int64", "Sessions that left after one page.", unit="count", min=0),
        C("landing_page_load_ms", "float64", "Mean landing-page load time.", unit="milliseconds", min=0),
        C("video_views", "int64", "Video views.", unit="count", min=0),
        C("engagements", "int64", "Likes, shares, comments and other engagements.", unit="count", min=0),
    ),
    # Every dimension a file reports identifies its rows; the campaign's name only where the
    # file has no campaign id (an id survives a rename, a name does not).
    key=("date", "hour", *(c.name for c in _AD_DIMENSIONS)),
    key_guards={"campaign": "campaign_id"},
    checks=(
        RowCheck("clicks_le_impressions", "clicks", "clicks_gt_impressions", "clicks <= impressions",
                 lambda t: t.clicks <= t.impressions),
        RowCheck("conversions_le_clicks", "conversions", "conversions_gt_clicks",
                 "conversions <= clicks, where the platform counts click-through conversions only",
                 lambda t: t.conversions <= t.clicks, optional=True),
    ),
    time_column="date",
)

EVENTS = TableSpec(
    name="events",
    description="Behavioural events from web or app analytics: one row per event.",
    columns=(
        C("event_id", "string", "Unique event id (derived from the row's content when the source has none).",
          nullable=False),
        C("user_id", "string", "Anonymous or logged-in user id.", nullable=False),
        C("session_id", "string", "Session id."),
        C("ts", "timestamp", "Event time, UTC.", nullable=False),
        C("event_name", "string", "impression, click, page_view, add_to_cart, begin_checkout, purchase, sign_up, ...",
          nullable=False),
        C("channel", "string", "Acquisition channel of the session or touch."),
        C("source", "string", "Traffic source (google, newsletter, ...)."),
        C("medium", "string", "Traffic medium (cpc, organic, email, ...)."),
        C("campaign", "string", "Campaign name or id."),
        C("device", "string", "Device class."),
        C("country", "string", "Country."),
        C("page", "string", "Page path or screen."),
        C("value", "float64", "Monetary value of the event (purchases).", unit="currency", min=0),
        C("properties", "string", "Other attributes as a JSON object."),
    ),
    key=("event_id",),
    time_column="ts",
)

CUSTOMERS = TableSpec(
    name="customers",
    description="Known customers, with consent per purpose. E-mail and phone are stored pseudonymized.",
    columns=(
        C("customer_id", "string", "Customer id.", nullable=False),
        C("created_at", "timestamp", "When the customer was first known, UTC."),
        C("country", "string", "Country."),
        C("attributes", "string", "Other attributes as a JSON object."),
        C("email", "string", "E-mail address, keyed hash of the trimmed lower-case address.", pii="email"),
        C("phone", "string", "Phone number, keyed hash of its digits.", pii="phone"),
        C("name", "string", "Person's name, keyed hash.", pii="name"),
        C("consent_analytics", "boolean", "Consent to analytics."),
        C("consent_personalization", "boolean", "Consent to personalization."),
        C("consent_marketing_email", "boolean", "Consent to marketing e-mail."),
        C("consent_ads", "boolean", "Consent to advertising audiences."),
    ),
    key=("customer_id",),
    time_column="created_at",
)

#: The purposes a person can consent to (issue 23); ``gpc`` records a Global Privacy Control
#: signal, an opt-out of sale and sharing and of ad targeting.
CONSENT_PURPOSES = ("measurement", "personalization", "marketing_email", "ad_targeting", "profiling", "sale_sharing",
                    "gpc")

CONSENTS = TableSpec(
    name="consents",
    description="Consent records per person and purpose, with their history: each row is one grant or withdrawal "
                "(or a Global Privacy Control signal, purpose gpc); the newest row per person and purpose decides. "
                "Where a person has no record for a purpose, the customers table's consent column (if the purpose "
                "has one) decides.",
    columns=(
        C("customer_id", "string", "Customer id.", nullable=False),
        C("purpose", "string", "Purpose (gpc: a Global Privacy Control signal).", nullable=False,
          allowed=CONSENT_PURPOSES),
        C("granted", "boolean", "Granted (true) or refused or withdrawn (false); for gpc, whether the signal is on.",
          nullable=False),
        C("ts", "timestamp", "When it was given, UTC.", nullable=False),
        C("source", "string", "Where it was collected (web banner, app, call centre, gpc header...)."),
        C("notice_version", "string", "The version of the privacy notice the person saw."),
    ),
    key=("customer_id", "purpose", "ts"),
    time_column="ts",
)

IDENTITIES = TableSpec(
    name="identities",
    description="Links between anonymous user ids, customer ids and hashed e-mails (unified identity).",
    columns=(
        C("user_id", "string", "Anonymous user id from events.", nullable=False),
        C("customer_id", "string", "Customer id.", nullable=False),
        C("email", "string", "E-mail address, keyed hash.", pii="email"),
        C("linked_at", "timestamp", "When the link was observed, UTC."),
    ),
    key=("user_id", "customer_id"),
    time_column="linked_at",
)

ORDERS = TableSpec(
    name="orders",
    description="Orders (or transactions). Cancellations and returns carry negative revenue and is_return.",
    columns=(
        C("order_id", "string", "Order id.", nullable=False),
        C("customer_id", "string", "Customer id; empty for guest orders."),
        C("ts", "timestamp", "Order time, UTC.", nullable=False),
        C("revenue", "float64", "Order revenue (negative for a cancellation or return).", unit="currency"),
        C("currency", "string", "ISO 4217 code of revenue.", default="USD", codes="iso4217"),
        C("channel", "string", "Channel the order came through."),
        C("country", "string", "Country."),
        C("items", "int64", "Units in the order (negative for a return).", unit="count"),
        C("is_return", "boolean", "True for a cancellation or return."),
    ),
    key=("order_id",),
    time_column="ts",
)

ORDER_ITEMS = TableSpec(
    name="order_items",
    description="Order lines: which product, how many, at what price.",
    columns=(
        C("order_id", "string", "Order id.", nullable=False),
        C("line", "int64", "Line number within the order (1-based).", nullable=False, min=1),
        C("product_id", "string", "Product id.", nullable=False),
        C("quantity", "int64", "Units (negative for a return).", unit="count"),
        C("unit_price", "float64", "Price per unit.", unit="currency", min=0),
    ),
    key=("order_id", "line"),
)

PRODUCTS = TableSpec(
    name="products",
    description="Product catalogue.",
    columns=(
        C("product_id", "string", "Product id (SKU).", nullable=False),
        C("name", "string", "Product name."),
        C("category", "string", "Category path."),
        C("price", "float64", "List price.", unit="currency", min=0),
        C("margin", "float64", "Gross margin as a share of price.", unit="ratio", min=-1, max=1),
        C("stock", "int64", "Units in stock now (empty: not tracked; 0 or less: out of stock, never recommended "
                            "or offered).", unit="count"),
    ),
    key=("product_id",),
)

OFFERS = TableSpec(
    name="offers",
    description="What can be offered to a customer: a product or category, its discount and cost, who is eligible "
                "and when, and the evidence of its effect (the experiment that tested it, or a propensity model).",
    columns=(
        C("offer_id", "string", "Offer id.", nullable=False),
        C("name", "string", "Offer name."),
        C("product_id", "string", "The product offered (or leave empty and give a category)."),
        C("category", "string", "The category offered, when the offer is not for one product."),
        C("discount", "float64", "Discount as a share of the price (0.1 = 10% off).", unit="ratio", min=0, max=1),
        C("cost", "float64", "Cost of making the offer to one customer (sending, incentive).", unit="currency",
          min=0),
        C("eligibility", "string", "Who may get it: a rule over customer features, e.g. 'recency_days > 60 and "
                                   "orders >= 2' (empty: everyone)."),
        C("valid_from", "date", "First day the offer may be made (empty: no start)."),
        C("valid_to", "date", "Last day the offer may be made (empty: no end)."),
        C("experiment_id", "string", "The experiment that tested the offer (its uplift is then the evidence)."),
        C("variant", "string", "The experiment's variant that got the offer (default treatment; control is "
                               "'control')."),
        C("propensity_model", "string", "A saved `mercator target train` model of responding to the offer, "
                                        "used where no experiment tested it."),
    ),
    key=("offer_id",),
)

MEDIA_SPEND = TableSpec(
    name="media_spend",
    description="Media spend per period and channel: the input of media-mix models.",
    columns=(
        C("period", "date", "First day of the period.", nullable=False),
        C("granularity", "string", "Length of the period.", nullable=False, allowed=("day", "week"), default="week"),
        C("channel", "string", "Channel.", nullable=False),
        C("spend", "float64", "Spend in the period.", unit="currency", min=0),
        C("impressions", "int64", "Impressions in the period.", unit="count", min=0),
        C("clicks", "int64", "Clicks in the period.", unit="count", min=0),
    ),
    key=("period", "granularity", "channel"),
    time_column="period",
)

MEDIA_CONTROLS = TableSpec(
    name="media_controls",
    description="Control variables of media-mix models per period: price, promotion, holiday, competitor activity.",
    columns=(
        C("period", "date", "First day of the period.", nullable=False),
        C("granularity", "string", "Length of the period.", nullable=False, allowed=("day", "week"), default="week"),
        C("control", "string", "Name of the control variable.", nullable=False),
        C("value", "float64", "Value of the control in the period."),
    ),
    key=("period", "granularity", "control"),
    time_column="period",
)

KPI_SERIES = TableSpec(
    name="kpi_series",
    description="Business KPI per period (sales, revenue, sign-ups): the target of media-mix models.",
    columns=(
        C("period", "date", "First day of the period.", nullable=False),
        C("granularity", "string", "Length of the period.", nullable=False, allowed=("day", "week"), default="week"),
        C("kpi", "string", "Name of the KPI.", nullable=False),
        C("value", "float64", "Value of the KPI in the period."),
    ),
    key=("period", "granularity", "kpi"),
    time_column="period",
)

EXPERIMENTS = TableSpec(
    name="experiments",
    description="Registered experiments with their locked success criteria.",
    columns=(
        C("experiment_id", "string", "Experiment id.", nullable=False),
        C("name", "string", "Short name."),
        C("hypothesis", "string", "What we expect and why."),
        C("primary_metric", "string", "The metric that decides."),
        C("guardrails", "string", "Guardrail metrics as a JSON list."),
        C("start", "date", "First day."),
        C("end", "date", "Last day."),
        C("success_criteria", "string", "Decision rule as a JSON object."),
        C("locked_at", "timestamp", "When the criteria were locked, UTC."),
        C("criteria_hash", "string", "SHA-256 of the locked criteria."),
    ),
    key=("experiment_id",),
    time_column="start",
)

ASSIGNMENTS = TableSpec(
    name="assignments",
    description="Which unit got which variant of which experiment.",
    columns=(
        C("experiment_id", "string", "Experiment id.", nullable=False),
        C("unit_id", "string", "Randomization unit (customer or user id).", nullable=False),
        C("variant", "string", "Variant name.", nullable=False),
        C("assigned_at", "timestamp", "Assignment time, UTC."),
    ),
    key=("experiment_id", "unit_id"),
    time_column="assigned_at",
)

CONTENT = TableSpec(
    name="content",
    description="Texts: reviews, social posts, support chats, ad copy.",
    columns=(
        C("doc_id", "string", "Document id.", nullable=False),
        C("customer_id", "string", "Author, where known."),
        C("channel", "string", "Where the text appeared (review, social, support, ad)."),
        C("ts", "timestamp", "When it was written, UTC."),
        C("text", "string", "The text.", nullable=False),
        C("label", "string", "Known label (e.g. sentiment), where given."),
    ),
    key=("doc_id",),
    time_column="ts",
)

SEGMENTS = TableSpec(
    name="segments",
    description="Every saved segment and the logic that defines it, for audit (RFM, clusters, rules).",
    columns=(
        C("segment_set", "string", "The segmentation run: kind and a hash of its configuration and data.",
          nullable=False),
        C("segment", "string", "Segment name.", nullable=False),
        C("kind", "string", "rfm, cluster or rule."),
        C("definition", "string", "The segment's logic as JSON (score ranges, thresholds, centroid, rule)."),
        C("params", "string", "The run's configuration as JSON (quantiles, reference date, features...)."),
        C("customers", "int64", "Customers in the segment when it was saved.", unit="count"),
        C("created_at", "timestamp", "When it was saved, UTC.", nullable=False),
    ),
    key=("segment_set", "segment"),
    time_column="created_at",
)

SEGMENT_MEMBERS = TableSpec(
    name="segment_members",
    description="Which customer was in which segment of a saved segmentation run.",
    columns=(
        C("segment_set", "string", "The segmentation run (see segments).", nullable=False),
        C("customer_id", "string", "Customer id.", nullable=False),
        C("segment", "string", "Segment name.", nullable=False),
    ),
    key=("segment_set", "customer_id"),
)

QUARANTINE = TableSpec(
    name="quarantine",
    description="Every rejected row: where it came from, which column, why, and the row as it was read.",
    columns=(
        C("load_id", "int64", "The load that rejected the row.", nullable=False),
        C("table_name", "string", "Canonical table the row was meant for.", nullable=False),
        C("source_file", "string", "Path of the source file.", nullable=False),
        C("source_row", "int64", "Row in the source file; the header is row 1.", nullable=False),
        C("column", "string", "Column that failed."),
        C("reason", "string", "Reason code (see the list below).", nullable=False),
        C("detail", "string", "The reason in words, with the offending value."),
        C("raw", "string", "The source row as JSON (personal data pseudonymized)."),
        C("quarantined_at", "timestamp", "When, UTC.", nullable=False),
    ),
    key=("table_name", "source_file", "source_row", "reason"),
    time_column="quarantined_at",
)

LOADS = TableSpec(
    name="loads",
    description="The load log: one row per file and target table loaded, with what the load did.",
    columns=(
        C("load_id", "int64", "Load id: 1 for the workspace's first load, then counting up.", nullable=False),
        C("table_name", "string", "Target table.", nullable=False),
        C("source_file", "string", "Path of the source file.", nullable=False),
        C("file_sha256", "string", "SHA-256 of the file's bytes."),
        C("mapping", "string", "Mapper or mapping used, with its hash."),
        C("rows_read", "int64", "Rows read from the file.", unit="count"),
        C("rows_inserted", "int64", "Rows with a new key.", unit="count"),
        C("rows_updated", "int64", "Rows whose key existed with other values.", unit="count"),
        C("rows_unchanged", "int64", "Rows already present as they are.", unit="count"),
        C("rows_quarantined", "int64", "Rows rejected to quarantine.", unit="count"),
        C("started_at", "timestamp", "Start, UTC.", nullable=False),
        C("finished_at", "timestamp", "End, UTC."),
    ),
    key=("load_id", "table_name"),
    time_column="started_at",
)

#: Every canonical table by name, in the order the docs present them.
TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (AD_PERFORMANCE, EVENTS, CUSTOMERS, CONSENTS, IDENTITIES, ORDERS, ORDER_ITEMS, PRODUCTS, OFFERS, MEDIA_SPEND,
              MEDIA_CONTROLS, KPI_SERIES, EXPERIMENTS, ASSIGNMENTS, CONTENT, OBJECTIVES, SIGNOFFS, POLICIES, CREATIVES,
              DECISIONS, REWARDS, SEGMENTS, SEGMENT_MEMBERS, MONITOR_CONFIG, ALERTS, ALERT_EVENTS, SILENCES, QUARANTINE,
              LOADS, OPTIMIZATIONS, PLAYBOOK, DASHBOARD_PAGES, AUDIT)
}


def table_spec(name: str) -> TableSpec:
    """The declaration of canonical table ``name``; a clear error for an unknown name."""
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(f"{name!r} is not a canonical table. Canonical tables: {', '.join(TABLES)}.") from None
