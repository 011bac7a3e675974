"""The data protection impact assessment's first draft, generated from what the workspace knows.

``dpia(ws)`` gathers the data map (every table that holds personal data, by which columns:
tagged and pseudonymized, person ids, free text, with its rows), the purposes with how many
people consented to each now, the retention policies, the flows (which tables feed which
outputs and exports, for which purpose) and the risks that apply, each with what Mercator
already does and what the team must still assess. ``dpia_markdown`` renders it as the document
the team completes (it computes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from mercator.results import Finding, Result

#: Which tables feed which outputs, and for which purpose (the consent filter each goes through).
FLOWS = (
    ("events, orders, order_items, products", "recommendations and next best offers (recommend batch, for, offers)",
     "personalization"),
    ("customers, orders, events (features)", "propensity and score lists (target score --consent)",
     "the purpose given, e.g. marketing_email or ad_targeting"),
    ("assignments, orders", "uplift lists (target uplift --consent)", "the purpose given"),
    ("orders, customers", "segments and CLV per customer (segment, clv)", "profiling"),
    ("decisions, rewards, creatives", "decisions served by mercator serve (bandits)", "personalization"),
    ("orders, events, scores", "trigger actions: audience files and webhooks (decide triggers)",
     "the trigger's purpose"),
    ("any table with customer_id", "partner exports (govern export --for-partner)", "sale_sharing"),
    ("ad_performance, media_spend, events (aggregated)", "explore, diagnose, forecast, attribution, MMM, report",
     "measurement"),
)


@dataclass(frozen=True)
class Dpia(Result):
    """The impact assessment's draft: data map, purposes, retention, flows and risks."""

    kind = "dpia"
    title = "Data protection impact assessment (draft)"
    headline = ("risks",)
    display: ClassVar[dict[str, tuple[str, ...]]] = {
        "data_map": ("table", "personal_data", "rows"),
        "purposes": ("purpose", "consented", "customers_column"),
        "risks": ("risk", "applies", "why")}


def dpia(ws) -> Dpia:
    """The draft for this workspace (counts as of now)."""
    from mercator.govern._retention import policies
    from mercator.govern._subject import PERSON_COLUMNS
    from mercator.govern._targeting import PURPOSES, consented
    from mercator.schema import TABLES

    rows = []
    for name, spec in TABLES.items():
        tagged = [f"{c.name} ({c.pii}, pseudonymized)" for c in spec.columns if c.pii]
        ids = [f"{c} (person id)" for c in PERSON_COLUMNS.get(name, ())]
        text = [f"{c.name} (free text)" for c in spec.columns
                if c.name in ("text", "raw", "detail", "attributes", "properties", "reason", "comment")]
        if tagged or ids or text:
            rows.append({"table": name, "personal_data": "; ".join(tagged + ids + text), "rows": ws.count(name)})
    data_map = pd.DataFrame(rows)
    customers = ws.count("customers")
    purposes = pd.DataFrame([{"purpose": p, "customers_column": col or "",
                              "consented": int(consented(ws, p).count().to_pyarrow().as_py()),
                              "customers": customers} for p, col in PURPOSES.items()])
    retention = pd.DataFrame([{"table": p.table, "keep": p.keep, "purpose": p.purpose} for p in policies(ws)])
    flows = pd.DataFrame(FLOWS, columns=["from", "to", "purpose"])
    c = ws.table("customers")
    countries = sorted(v for v in c.select("country").distinct().to_pyarrow().column(0).to_pylist() if v)
    segments, decisions = ws.count("segment_members"), ws.count("decisions")
    texts = ws.count("content")
    risks = pd.DataFrame([
        {"risk": "profiling", "applies": bool(segments or decisions),
         "why": f"{segments:,} segment memberships and {decisions:,} automated decisions about people",
         "in_mercator": "consent to profiling and personalization checked by the one filter; every decision logged "
                        "with its reason",
         "to_assess": "whether any decision has legal or similarly significant effects (GDPR Art. 22); how people "
                      "can contest one"},
        {"risk": "sensitive inferences", "applies": bool(texts),
         "why": f"{texts:,} free texts (reviews, chats) may reveal health, beliefs or other special categories",
         "in_mercator": "personal data in free text found and pseudonymized (govern pii); names out of scope",
         "to_assess": "whether segments or scores could act as proxies for special categories"},
        {"risk": "cross-border flows", "applies": len(countries) > 1,
         "why": f"customers in {len(countries)} countries: {', '.join(countries[:12])}" if countries else
                "no country recorded",
         "in_mercator": "everything runs where the workspace is; partner exports pass the sharing gate",
         "to_assess": "where the workspace, backups and partners are; the transfer mechanism for each"},
        {"risk": "re-identification in shared data", "applies": True,
         "why": "partner exports and audience files leave the workspace",
         "in_mercator": "k-anonymity and l-diversity gate, consent to sale and sharing, GPC honoured",
         "to_assess": "the quasi-identifiers of each partner data set; contracts"},
        {"risk": "keeping data too long", "applies": True,
         "why": f"{len(retention)} retention policies; tables without one keep rows until deleted",
         "in_mercator": "govern retention (dry run and apply, audited); subject erasure",
         "to_assess": "periods for the tables without a policy (customers, orders: the books)"},
    ])
    applies = risks[risks.applies]
    findings = (Finding(f"{len(data_map)} tables hold personal data; {len(applies)} of {len(risks)} risks apply "
                        f"({', '.join(applies.risk)}). This is a draft for the team to complete.", impact=1.0),)
    return Dpia(tables={"data_map": data_map, "purposes": purposes, "retention": retention, "flows": flows,
                        "risks": risks}, findings=findings, params={"customers": customers, "countries": countries})


def dpia_markdown(res: Dpia) -> str:
    """The draft as a Markdown document with the questions left for the team."""
    def table(df: pd.DataFrame) -> str:
        head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
        return head + "".join("| " + " | ".join(str(v) for v in r) + " |\n" for r in df.itertuples(index=False))

    risks = res.to_frame("risks")
    parts = [
        "# Data protection impact assessment (draft)\n",
        ("Generated by `mercator govern dpia` from the workspace's schema, consent, retention and flows. "
        "Sections marked **TO COMPLETE** are for the team.\n"),
        ("## 1. The processing\n\n**TO COMPLETE**: the controller, the processors, the legal basis of each purpose, "
        "and who signed off.\n"),
        "## 2. Data map\n\n" + table(res.to_frame("data_map")),
        "## 3. Purposes and consent\n\n" + table(res.to_frame("purposes")),
        "## 4. Retention\n\n" + table(res.to_frame("retention")),
        "## 5. Flows\n\n" + table(res.to_frame("flows")),
        "## 6. Risks\n\n" + "".join(
            f"### {r.risk} ({'applies' if r.applies else 'does not seem to apply'})\n\n- Why: {r.why}\n"
            f"- What Mercator does: {r.in_mercator}\n- **TO COMPLETE**: {r.to_assess}\n\n"
            for r in risks.itertuples()),
        ("## 7. Measures and sign-off\n\n**TO COMPLETE**: residual risks, the measures decided, the data protection "
        "officer's advice, and the date of the next review.\n"),
    ]
    return "\n".join(parts)
