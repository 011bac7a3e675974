"""What is in the demo company's orders: a catalogue, and the items of every order, with
planted tastes, repeat cycles and bundles for the recommender to find.

Drawn from their own random stream, so every other table stays as it was. Every order gets
its ``items`` lines (returns too):
- taste: each customer has one of TASTES; a line comes from the taste's two categories with
  probability TASTE_WEIGHT, else from any category; within a category, items are Zipf-popular.
- repeat cycles: a customer of a staple's taste buys it (with probability 0.6) and then puts
  it in their first order of every later cycle of STAPLES[item] days.
- bundles: when an order holds a bundle's first item, the second joins it with probability
  BUNDLE_CONFIDENCE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

CATEGORIES = ("coffee", "tea", "baking", "garden", "pets", "kids")
PER_CATEGORY = 20
TASTES = {"coffee_and_baking": ("coffee", "baking"), "tea_and_garden": ("tea", "garden"),
          "pets_and_kids": ("pets", "kids"), "baking_and_tea": ("baking", "tea")}
TASTE_WEIGHT = 0.8
STAPLES = {"coffee-00": 21, "tea-00": 45, "pets-00": 90}  # item: repeat cycle in days
BUNDLES = (("baking-03", "baking-07"), ("coffee-05", "baking-11"), ("garden-02", "garden-09"), ("kids-04", "pets-08"))
BUNDLE_CONFIDENCE = 0.6


def catalogue(rng: np.random.Generator) -> pa.Table:
    cat = np.repeat(np.array(CATEGORIES), PER_CATEGORY)
    ids = np.char.add(np.char.add(cat, "-"), np.char.zfill(np.tile(np.arange(PER_CATEGORY), len(CATEGORIES))
                                                          .astype(str), 2))
    base = np.repeat(np.array([12.0, 9.0, 6.0, 25.0, 18.0, 15.0]), PER_CATEGORY)
    price = np.round(base * rng.lognormal(0, 0.4, len(ids)), 2)
    margin = np.round(rng.uniform(0.15, 0.55, len(ids)), 2)  # gross margin as a share of price
    return pa.table({"product_id": ids, "name": np.char.add(np.char.add(np.char.capitalize(cat), " item "),
                                                             np.char.zfill(np.tile(np.arange(PER_CATEGORY),
                                                                                   len(CATEGORIES)).astype(str), 2)),
                     "category": cat, "price": price, "margin": margin})


def order_items(rng: np.random.Generator, orders: pa.Table, products: pa.Table) -> tuple[pa.Table, dict, pa.Table]:
    """The lines of every order, the truth, and each customer's planted taste."""
    o = pd.DataFrame({"order_id": orders["order_id"].to_numpy(zero_copy_only=False),
                      "customer_id": orders["customer_id"].to_numpy(zero_copy_only=False),
                      "ts": orders["ts"].to_numpy(), "items": orders["items"].to_numpy()})
    customers = np.unique(o.customer_id)
    taste_names = np.array(list(TASTES))
    taste = taste_names[rng.integers(0, len(TASTES), len(customers))]
    taste_of = pd.Series(taste, index=customers)
    ids = products["product_id"].to_numpy(zero_copy_only=False)
    zipf = 1.0 / np.arange(1, PER_CATEGORY + 1) ** 0.8
    zipf /= zipf.sum()
    # one row per line: its category (taste or any), then an item of it
    line_order = np.repeat(np.arange(len(o)), o["items"].to_numpy())
    mine = np.array([TASTES[t] for t in taste_of.loc[o.customer_id.to_numpy()[line_order]]])
    in_taste = rng.random(len(line_order)) < TASTE_WEIGHT
    cat = np.where(in_taste, mine[np.arange(len(line_order)), rng.integers(0, 2, len(line_order))],
                   np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), len(line_order))])
    pick = rng.choice(PER_CATEGORY, len(line_order), p=zipf)
    product = np.char.add(np.char.add(cat.astype(str), "-"), np.char.zfill(pick.astype(str), 2))
    lines = pd.DataFrame({"order": line_order, "product_id": product})
    # staples: the first order of each cycle, for the customers of the staple's taste who buy it
    staple_rows = []
    for item, cycle in STAPLES.items():
        fans = taste_of.index[[item.split("-")[0] in TASTES[t] for t in taste_of]]
        fans = fans[rng.random(len(fans)) < 0.6]
        own = o[o.customer_id.isin(fans)]
        bucket = (own.ts - own.groupby("customer_id").ts.transform("min")).dt.days // cycle
        first = own.assign(_b=bucket.to_numpy()).groupby(["customer_id", "_b"]).head(1)
        staple_rows.append(pd.DataFrame({"order": first.index.to_numpy(), "product_id": item}))
    lines = pd.concat([lines, *staple_rows], ignore_index=True)
    # bundles: the partner joins its first item's order
    for first, second in BUNDLES:
        holding = lines.loc[lines.product_id == first, "order"].unique()
        joins = holding[rng.random(len(holding)) < BUNDLE_CONFIDENCE]
        lines = pd.concat([lines, pd.DataFrame({"order": joins, "product_id": second})], ignore_index=True)
    lines = lines.drop_duplicates(["order", "product_id"]).sort_values(["order", "product_id"], kind="stable")
    line_no = lines.groupby("order").cumcount().to_numpy() + 1
    price = pd.Series(products["price"].to_numpy(), index=ids)
    items = pa.table({"order_id": o.order_id.to_numpy()[lines.order.to_numpy()], "line": line_no,
                      "product_id": lines.product_id.to_numpy(), "quantity": rng.integers(1, 3, len(lines)),
                      "unit_price": price.loc[lines.product_id.to_numpy()].to_numpy()})
    truth = {"categories": list(CATEGORIES), "tastes": {k: list(v) for k, v in TASTES.items()},
             "taste_weight": TASTE_WEIGHT, "staples_cycle_days": STAPLES,
             "bundles": [list(b) for b in BUNDLES], "bundle_confidence": BUNDLE_CONFIDENCE,
             "products": len(ids), "lines": len(lines)}
    return items, truth, pa.table({"customer_id": customers, "taste": taste})


def offers(start, experiment: str) -> tuple[pa.Table, dict]:
    """What the demo company can offer (issue 20's next best offer), and what is true of each:
    the e-mail of its experiment (which moves mobile customers only), a staple and a category at
    a discount (no experiment: the recommender's probabilities are the evidence), and a
    seasonal offer that ended long before the data does."""
    import datetime as dt

    table = pa.table({
        "offer_id": ["email_next_order", "coffee_refill", "baking_week", "garden_spring"],
        "name": ["Personalised e-mail", "10% off your coffee refill", "15% off baking", "20% off the garden"],
        "product_id": [None, "coffee-00", None, None],
        "category": [None, None, "baking", "garden"],
        "discount": [0.0, 0.10, 0.15, 0.20],
        "cost": [0.15, 0.05, 0.05, 0.05],
        "eligibility": [None, "frequency >= 2", "recency_days <= 120", None],
        "valid_from": pa.array([None, None, None, start], pa.date32()),
        "valid_to": pa.array([None, None, None, start + dt.timedelta(days=60)], pa.date32()),
        "experiment_id": [experiment, None, None, None],
        "variant": ["treatment", None, None, None],
        "propensity_model": pa.array([None] * 4, pa.string()),
    })
    truth = {"email_next_order": "tested in the e-mail experiment: +2 points of purchase probability on mobile, "
                                 "none on other devices",
             "coffee_refill": "coffee-00 is a staple of the coffee_and_baking taste (21-day cycle)",
             "baking_week": "baking is a category of the coffee_and_baking and baking_and_tea tastes",
             "garden_spring": "ended 60 days after the start: never offered",
             "ended": ["garden_spring"]}
    return table, truth
