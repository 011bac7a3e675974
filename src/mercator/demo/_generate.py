"""A synthetic company with known ground truth: pure, seeded, vectorized NumPy.

Every planted effect is recorded in ``truth`` so later capabilities can be tested against it:
- ad_performance: mobile CVR falls from ``incident_date`` because mobile landing pages got
  slow (landing_page_load_ms); one campaign's CTR decays from creative fatigue; another runs a
  four-week push (``campaign_push``) that adds a known number of conversions, judged by the
  post-campaign review against an objective locked before launch.
- events: user journeys over channels with known additive incremental effects on
  conversion (JOURNEY_EFFECTS); display has zero effect. Exposure to each channel is random
  (independent of intent), so the effects are identifiable from journeys.
- orders: first purchases from journeys plus repeat purchases from a BG/NBD process with
  known r, alpha, a, b; spend per order from a Gamma-Gamma process.
- media_spend / kpi_series / media_controls: weekly revenue from geometric adstock and Hill
  saturation with known parameters, plus trend, seasonality, promotions and holidays.
- experiments / assignments: a 50/50 e-mail test with a known conversion lift.
- store orders: customers of channel ``store`` in four planted behavioural segments
  (STORE_SEGMENTS: regulars, big-ticket, lapsed, returners), for clustering.
- content: reviews, posts and support chats on five topics, one of which turns negative from a
  known day (a product problem); 60% labelled (``demo._texts``).
- products / order_items: what is in every order, with planted tastes, repeat cycles and
  bundles (``_baskets``).
- offers: what the company can offer, one of them tested by the e-mail experiment.
- policies / decisions / rewards: a homepage banner policy's decision log (``_decisions``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mercator.demo._baskets import catalogue, offers, order_items
from mercator.demo._decisions import decision_log
from mercator.demo._texts import content as demo_texts
from mercator.experiment import criteria_hash

SIZES = {
    # customers, days of ad data, weeks of media data
    "tiny": {"customers": 400, "days": 60, "weeks": 60},  # contract tests: every table, little to compute
    "small": {"customers": 2_000, "days": 120, "weeks": 104},
    "default": {"customers": 40_000, "days": 730, "weeks": 156},
    "large": {"customers": 2_000_000, "days": 730, "weeks": 156},
}
START = dt.date(2024, 1, 1)
CHANNELS = ("paid_search", "paid_social", "display", "email", "video")
DEVICES = ("desktop", "mobile", "tablet")
COUNTRIES = ("US", "GB", "DE", "FR")


@dataclass(frozen=True)
class DemoData:
    tables: dict[str, pa.Table]
    truth: dict


def _dates(n: int) -> np.ndarray:
    return np.datetime64(START.isoformat()) + np.arange(n).astype("timedelta64[D]")


#: The campaign push (issue 22): from PUSH_AT x days, for PUSH_DAYS days, the campaign converts
#: PUSH_LIFT more of its clicks; every other campaign is as it was (the review's controls).
PUSH_CAMPAIGN, PUSH_AT, PUSH_DAYS, PUSH_LIFT = "cmp_paid_search_2", 0.45, 28, 0.25


def _ad_performance(rng: np.random.Generator, days: int, push_rng: np.random.Generator) -> tuple[pa.Table, dict]:
    campaigns = [(f"cmp_{ch}_{i}", ch) for ch in CHANNELS if ch != "email" for i in (1, 2)]
    base_imp = {"paid_search": 9000, "paid_social": 15000, "display": 30000, "video": 12000}
    ctr0 = {"paid_search": 0.045, "paid_social": 0.012, "display": 0.004, "video": 0.008}
    cpc = {"paid_search": 1.10, "paid_social": 0.70, "display": 0.45, "video": 0.60}
    dev_share = np.array([0.40, 0.50, 0.10])
    dev_cvr = np.array([0.040, 0.031, 0.028])
    country_share = np.array([0.5, 0.2, 0.15, 0.15])
    d, c, v, k = np.meshgrid(np.arange(days), np.arange(len(campaigns)), np.arange(3), np.arange(4), indexing="ij")
    d, c, v, k = d.ravel(), c.ravel(), v.ravel(), k.ravel()
    chan = np.array([campaigns[i][1] for i in range(len(campaigns))])[c]
    dates = _dates(days)[d]
    weekday = (d + START.weekday()) % 7
    season = 1 + 0.15 * np.sin(2 * np.pi * d / 365.25) - 0.10 * (weekday >= 5)
    imp_mean = np.vectorize(base_imp.get)(chan) * dev_share[v] * country_share[k] * season
    impressions = rng.poisson(imp_mean)
    ctr = np.vectorize(ctr0.get)(chan) * (1 + 0.05 * rng.standard_normal(len(d)))
    # creative fatigue: campaign cmp_paid_social_1 gets a new creative on day `launch`; its CTR
    # starts 40% higher and decays with a half-life of 21 days
    fatigue_cmp, launch, half_life = "cmp_paid_social_1", days // 3, 21.0
    fat = (np.array([x[0] for x in campaigns])[c] == fatigue_cmp) & (d >= launch)
    ctr = np.where(fat, ctr * (1.0 + 0.4 * 0.5 ** ((d - launch) / half_life)) * 0.5 ** ((d - launch) / (4 * half_life)),
                   ctr)
    clicks = rng.binomial(impressions, np.clip(ctr, 0, 1))
    cost = clicks * np.vectorize(cpc.get)(chan) * rng.lognormal(0, 0.1, len(d))
    # slow mobile landing pages from incident_date: load time doubles, CVR falls
    incident = int(days * 0.7)
    load = np.where(v == 1, 2200.0, np.where(v == 0, 1700.0, 2000.0)) * rng.lognormal(0, 0.05, len(d))
    slow = (v == 1) & (d >= incident)
    load = np.where(slow, load * 2.2, load)
    cvr = dev_cvr[v] * np.exp(-0.35 * (load - np.where(v == 1, 2200.0, load)) / 1000.0)
    cvr = np.where(v == 1, cvr, dev_cvr[v])
    conversions = rng.binomial(clicks, np.clip(cvr, 0, 1))
    value = conversions * rng.lognormal(np.log(60), 0.2, len(d))
    # the push draws from its own stream, so every draw above is as it was without it
    cmp_ids = np.array([x[0] for x in campaigns])
    p0 = int(days * PUSH_AT)
    push = (cmp_ids[c] == PUSH_CAMPAIGN) & (d >= p0) & (d < p0 + PUSH_DAYS)
    extra = np.where(push, push_rng.binomial(clicks, np.clip(cvr * PUSH_LIFT, 0, 1)), 0)
    conversions = conversions + extra
    value = value + extra * push_rng.lognormal(np.log(60), 0.2, len(d))
    sessions = rng.binomial(clicks, 0.92)
    bounce = np.clip(0.35 + 0.08 * (load - 2000) / 1000, 0.05, 0.95)
    bounces = rng.binomial(sessions, bounce)
    table = pa.table({
        "date": pa.array(dates.astype("datetime64[D]")),
        "platform": np.where(np.isin(chan, ["paid_search", "display", "video"]), "google_ads", "meta"),
        "channel": chan, "campaign_id": cmp_ids[c], "campaign": np.char.replace(cmp_ids[c], "cmp_", "Campaign "),
        "ad_group": np.char.add(cmp_ids[c], "_ag1"),
        "creative_id": np.where(fat, np.char.add(cmp_ids[c], "_cr2"), np.char.add(cmp_ids[c], "_cr1")),
        "device": np.array(DEVICES)[v], "country": np.array(COUNTRIES)[k],
        "impressions": impressions, "clicks": clicks, "cost": np.round(cost, 2), "currency": np.full(len(d), "USD"),
        "conversions": conversions.astype(float), "conversion_value": np.round(value, 2),
        "sessions": sessions, "bounces": bounces, "landing_page_load_ms": np.round(load, 1),
    })
    mobile_before = dev_cvr[1]
    mobile_after = float(dev_cvr[1] * np.exp(-0.35 * (2200 * 1.2) / 1000.0))
    truth = {
        "mobile_cvr_incident": {"device": "mobile", "from_date": (START + dt.timedelta(days=incident)).isoformat(),
                                "cause": "landing_page_load_ms", "load_ms_before": 2200, "load_ms_after": 2200 * 2.2,
                                "cvr_before": float(mobile_before), "cvr_after": mobile_after},
        "creative_fatigue": {"campaign_id": fatigue_cmp, "creative_id": f"{fatigue_cmp}_cr2",
                             "launch_date": (START + dt.timedelta(days=launch)).isoformat(),
                             "ctr_half_life_days": half_life * 4, "initial_ctr_boost": 0.4},
        "campaign_push": {"campaign_id": PUSH_CAMPAIGN, "start": (START + dt.timedelta(days=p0)).isoformat(),
                          "end": (START + dt.timedelta(days=p0 + PUSH_DAYS - 1)).isoformat(),
                          "relative_lift": PUSH_LIFT, "added_conversions": int(extra.sum()),
                          "conversions_without_push": int((conversions - extra)[push].sum())},
    }
    return table, truth


#: Each channel's causal effect on a user's chance to convert (additive, in probability), and the
#: chance that a user is exposed to it. Display has no effect: a channel that only shows up.
JOURNEY_EFFECTS = {"paid_search": 0.050, "paid_social": 0.030, "display": 0.0, "email": 0.040, "video": 0.015}
JOURNEY_EXPOSURE = {"paid_search": 0.45, "paid_social": 0.40, "display": 0.35, "email": 0.30, "video": 0.20}


def journey_outcomes(rng: np.random.Generator, intent: np.ndarray, *, display_follows_intent: bool = False
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Exposure per channel and conversion for users of the given ``intent``: conversion chance
    0.02 + 0.10 x intent + the JOURNEY_EFFECTS of the channels seen. ``display_follows_intent``
    makes display a retargeting channel shown to high-intent users (0.1 + 0.9 x intent): it then
    predicts conversion without causing any, which no journey-based model can tell apart."""
    n = len(intent)
    exposed = {}
    for ch in CHANNELS:
        p = 0.1 + 0.9 * intent if ch == "display" and display_follows_intent else JOURNEY_EXPOSURE[ch]
        exposed[ch] = rng.random(n) < p
    p_conv = 0.02 + 0.10 * intent + sum(JOURNEY_EFFECTS[ch] * exposed[ch] for ch in CHANNELS)
    return exposed, rng.random(n) < p_conv


def _customers_and_journeys(rng: np.random.Generator, n: int, days: int) -> tuple[dict[str, pa.Table], dict]:
    ids = np.char.add("c", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    created = np.datetime64(START.isoformat(), "s") + (rng.uniform(0, days * 0.5, n) * 86400).astype("timedelta64[s]")
    country = np.array(COUNTRIES)[rng.choice(4, n, p=[0.5, 0.2, 0.15, 0.15])]
    device = np.array(DEVICES)[rng.choice(3, n, p=[0.4, 0.5, 0.1])]
    # planted behavioural segments (recoverable by clustering)
    seg_names = np.array(["bargain_hunters", "loyal_regulars", "big_spenders", "one_timers"])
    seg = rng.choice(4, n, p=[0.3, 0.25, 0.15, 0.30])
    intent = rng.beta(2, 5, n) + 0.15 * (seg == 1)
    effects = JOURNEY_EFFECTS
    exposed, converted = journey_outcomes(rng, intent)
    # touch events: 1-3 touches per exposed channel, in the 14 days before the journey end
    end = created + (rng.uniform(1, 30, n) * 86400).astype("timedelta64[s]")
    users = np.char.add("u", ids)
    ev_user, ev_ts, ev_name, ev_chan = [], [], [], []
    for ch in CHANNELS:
        idx = np.flatnonzero(exposed[ch])
        reps = rng.integers(1, 4, len(idx))
        who = np.repeat(idx, reps)
        ts = end[who] - (rng.uniform(0.01, 14, len(who)) * 86400).astype("timedelta64[s]")
        ev_user.append(who)
        ev_ts.append(ts)
        ev_name.append(np.full(len(who), "impression" if ch in ("display", "video") else "click"))
        ev_chan.append(np.full(len(who), ch))
    # funnel at the journey end: page_view for all, add_to_cart/begin_checkout/purchase by stage
    stage = np.where(converted, 4, rng.choice([1, 2, 3], n, p=[0.6, 0.25, 0.15]))
    for s, name in enumerate(["page_view", "add_to_cart", "begin_checkout", "purchase"], start=1):
        idx = np.flatnonzero(stage >= s)
        ev_user.append(idx)
        ev_ts.append(end[idx] + np.timedelta64(60 * s, "s"))
        ev_name.append(np.full(len(idx), name))
        ev_chan.append(np.full(len(idx), None))
    who = np.concatenate(ev_user)
    ts = np.concatenate(ev_ts)
    names = np.concatenate(ev_name)
    first_value = np.round(rng.gamma(6.0, 10.0, n), 2)
    value = np.where(names == "purchase", first_value[who], np.nan)
    order = np.lexsort((ts, who))
    who, ts, names, chans, value = who[order], ts[order], names[order], np.concatenate(ev_chan)[order], value[order]
    events = pa.table({
        "event_id": np.char.add("e", np.arange(len(who)).astype(str)),
        "user_id": users[who], "session_id": np.char.add("s", ids[who]), "ts": pa.array(ts.astype("datetime64[us]")),
        "event_name": names, "channel": chans, "device": device[who], "country": country[who],
        "value": pa.array(value, mask=np.isnan(value)),
    })
    # repeat purchases: BG/NBD (r, alpha in days; a, b) with Gamma-Gamma spend (p, q, gamma)
    r, alpha, a, b = 0.8, 40.0, 1.2, 3.0
    p_gg, q_gg, gamma_gg = 6.0, 4.0, 60.0
    buyers = np.flatnonzero(converted)
    lam = rng.gamma(r, 1 / alpha, len(buyers))
    drop = rng.beta(a, b, len(buyers))
    nu = rng.gamma(q_gg, 1 / gamma_gg, len(buyers))
    horizon = (np.datetime64((START + dt.timedelta(days=days)).isoformat(), "s") - end[buyers]) / np.timedelta64(1, "D")
    # number of purchases before dropping out: geometric; each gap exponential(lam)
    max_k = 40
    gaps = rng.exponential(1.0, (len(buyers), max_k)) / lam[:, None]
    times = np.cumsum(gaps, axis=1)
    alive_k = rng.geometric(drop) - 1  # purchases made before dropout after each purchase
    keep = (np.arange(max_k)[None, :] < alive_k[:, None]) & (times < horizon[:, None])
    bi, ki = np.nonzero(keep)
    rep_ts = end[buyers[bi]] + (times[bi, ki] * 86400).astype("timedelta64[s]")
    rep_val = np.round(rng.gamma(p_gg, 1 / nu[bi]), 2)
    o_cust = np.concatenate([buyers, buyers[bi]])
    o_ts = np.concatenate([end[buyers] + np.timedelta64(240, "s"), rep_ts])
    o_rev = np.concatenate([first_value[buyers], rep_val])
    o_chan = np.concatenate([np.full(len(buyers), "web"), np.full(len(bi), "web")])
    orders = pa.table({
        "order_id": np.char.add("o", np.arange(len(o_cust)).astype(str)), "customer_id": ids[o_cust],
        "ts": pa.array(o_ts.astype("datetime64[us]")), "revenue": o_rev, "currency": np.full(len(o_cust), "USD"),
        "channel": o_chan, "country": country[o_cust], "items": rng.integers(1, 4, len(o_cust)),
        "is_return": np.zeros(len(o_cust), bool),
    })
    consent = rng.random((n, 4)) < np.array([0.9, 0.7, 0.55, 0.6])
    customers = pa.table({
        "customer_id": ids, "created_at": pa.array(created.astype("datetime64[us]")), "country": country,
        "attributes": np.char.add(np.char.add('{"device": "', device), '"}'),
        "email": np.char.add(ids, "@example.com"), "phone": np.char.add("+1555", np.char.zfill(np.arange(n).astype(str), 7)),
        "consent_analytics": consent[:, 0], "consent_personalization": consent[:, 1],
        "consent_marketing_email": consent[:, 2], "consent_ads": consent[:, 3],
    })
    identities = pa.table({"user_id": users, "customer_id": ids, "linked_at": pa.array(created.astype("datetime64[us]"))})
    exposed_n = {ch: int(exposed[ch].sum()) for ch in CHANNELS}
    incr = {ch: effects[ch] * exposed_n[ch] for ch in CHANNELS}
    total_incr = sum(incr.values())
    truth = {
        "journeys": {"incremental_effect": effects, "exposed_users": exposed_n,
                     "expected_incremental_conversions": incr,
                     "true_credit_share": {ch: incr[ch] / total_incr for ch in CHANNELS},
                     "baseline": "0.02 + 0.10 * intent", "zero_effect_channel": "display",
                     "users": n, "conversions": int(converted.sum())},
        "clv": {"bgnbd": {"r": r, "alpha_days": alpha, "a": a, "b": b},
                "gamma_gamma": {"p": p_gg, "q": q_gg, "gamma": gamma_gg}},
        "segments": {"names": seg_names.tolist(), "shares": [0.3, 0.25, 0.15, 0.30]},
    }
    tables = {"customers": customers, "identities": identities, "events": events, "orders": orders}
    tables["_truth_customers"] = pa.table({"customer_id": ids, "segment": seg_names[seg], "device": device, "intent": intent,
                                           "converted": converted})
    return tables, truth


def geometric_adstock(x: np.ndarray, alpha: float, lmax: int = 12) -> np.ndarray:
    """y[t] = sum_l alpha^l x[t-l], l < lmax (no normalization)."""
    w = alpha ** np.arange(lmax)
    return np.convolve(x, w)[: len(x)]


def hill(x: np.ndarray, k: float, s: float) -> np.ndarray:
    return x**s / (x**s + k**s)


def _media(rng: np.random.Generator, weeks: int) -> tuple[dict[str, pa.Table], dict]:
    chans = ("tv", "paid_search", "paid_social", "display")
    alpha = {"tv": 0.6, "paid_search": 0.2, "paid_social": 0.4, "display": 0.3}
    half_sat = {"tv": 40_000.0, "paid_search": 15_000.0, "paid_social": 20_000.0, "display": 12_000.0}
    shape = {"tv": 1.5, "paid_search": 1.0, "paid_social": 1.2, "display": 1.0}
    beta = {"tv": 90_000.0, "paid_search": 60_000.0, "paid_social": 50_000.0, "display": 15_000.0}
    base_spend = {"tv": 30_000.0, "paid_search": 15_000.0, "paid_social": 18_000.0, "display": 8_000.0}
    t = np.arange(weeks)
    periods = np.datetime64("2023-01-02") + (7 * t).astype("timedelta64[D]")
    spend = {}
    for ch in chans:
        on = rng.random(weeks) < (0.6 if ch == "tv" else 0.95)
        spend[ch] = np.round(on * base_spend[ch] * rng.lognormal(0, 0.35, weeks) * (1 + 0.3 * np.sin(2 * np.pi * t / 52)),
                             2)
    promo = (rng.random(weeks) < 0.12).astype(float)
    holiday = np.isin(t % 52, [0, 46, 47, 50, 51]).astype(float)
    price = np.round(20 + 0.5 * rng.standard_normal(weeks), 2)
    baseline = 200_000 + 300 * t + 25_000 * np.sin(2 * np.pi * t / 52 + 1)
    contrib = {ch: beta[ch] * hill(geometric_adstock(spend[ch], alpha[ch]), half_sat[ch], shape[ch]) for ch in chans}
    revenue = baseline + 30_000 * promo + 40_000 * holiday - 4_000 * (price - 20) + sum(contrib.values())
    revenue = revenue + rng.normal(0, 6_000, weeks)
    media = pa.table({
        "period": np.repeat(periods, len(chans)).astype("datetime64[D]"), "granularity": np.full(weeks * len(chans), "week"),
        "channel": np.tile(chans, weeks), "spend": np.column_stack([spend[c] for c in chans]).ravel(),
    })
    controls = pa.table({
        "period": np.repeat(periods, 3).astype("datetime64[D]"), "granularity": np.full(weeks * 3, "week"),
        "control": np.tile(["promotion", "holiday", "price"], weeks),
        "value": np.column_stack([promo, holiday, price]).ravel(),
    })
    kpi = pa.table({"period": periods.astype("datetime64[D]"), "granularity": np.full(weeks, "week"),
                    "kpi": np.full(weeks, "revenue"), "value": np.round(revenue, 2)})
    roas = {ch: float(contrib[ch].sum() / spend[ch].sum()) for ch in chans}
    truth = {"channels": list(chans), "adstock": "geometric, lmax 12, unnormalized", "alpha": alpha,
             "saturation": "hill", "half_saturation": half_sat, "shape": shape, "beta": beta, "roas": roas,
             "controls": {"promotion": 30_000, "holiday": 40_000, "price_per_unit_above_20": -4_000},
             "noise_sd": 6_000}
    return {"media_spend": media, "media_controls": controls, "kpi_series": kpi}, truth


def _experiment(rng: np.random.Generator, customer_ids: np.ndarray, days: int, recency_days: np.ndarray,
                country: np.ndarray, device: np.ndarray) -> tuple[dict[str, pa.Table], dict]:
    """A 50/50 e-mail test. Who buys is planted: the chance is 3x for customers whose last purchase
    was within 60 days of the start (``recency_days``, NaN for none) and 2x in the US, scaled to a
    5% mean. Whom the e-mail moves is planted too: it adds 2 points on mobile and nothing on other
    devices (half the customers are on mobile: 1 point, a 20% relative lift, on average)."""
    n = len(customer_ids)
    start = START + dt.timedelta(days=int(days * 0.4))
    end = start + dt.timedelta(days=27)
    treat = rng.random(n) < 0.5
    p_c, lift = 0.050, 0.20
    weight = np.where(recency_days <= 60, 3.0, 1.0) * np.where(country == "US", 2.0, 1.0)
    base = p_c * weight / weight.mean()
    uplift = np.where(device == "mobile", 2 * p_c * lift, 0.0)
    conv = rng.random(n) < np.where(treat, base + uplift, base)
    rev = np.where(conv, np.round(rng.gamma(4.0, 12.5, n), 2), 0.0)
    assigned = np.datetime64(start.isoformat(), "s") + (rng.uniform(0, 2, n) * 86400).astype("timedelta64[s]")
    idx = np.flatnonzero(conv)
    exp_orders = pa.table({
        "order_id": np.char.add("x", np.arange(len(idx)).astype(str)), "customer_id": customer_ids[idx],
        "ts": pa.array((assigned[idx] + (rng.uniform(0, 25, len(idx)) * 86400).astype("timedelta64[s]"))
                       .astype("datetime64[us]")),
        "revenue": rev[idx], "currency": np.full(len(idx), "USD"), "channel": np.full(len(idx), "email"),
        "items": np.ones(len(idx), dtype=np.int64), "is_return": np.zeros(len(idx), bool),
    })
    # the plan, locked the day before the start (its hash is what `register` would have stored)
    hypothesis, rule = "A personalised subject line raises 28-day purchase rate", {
        "metric": "converted", "min_relative_lift": 0.05, "alpha": 0.05}
    guardrails = ["revenue/orders>-0.15"]  # average order value may not fall by more than 15%
    experiments = pa.table({
        "experiment_id": ["exp_email_subject"], "name": ["E-mail subject line test"], "hypothesis": [hypothesis],
        "primary_metric": ["converted"], "guardrails": [json.dumps(guardrails)],
        "start": pa.array([start]), "end": pa.array([end]), "success_criteria": [json.dumps(rule, sort_keys=True)],
        "locked_at": pa.array([dt.datetime.combine(start - dt.timedelta(days=1), dt.time(9))]),
        "criteria_hash": [criteria_hash(hypothesis, "converted", guardrails, rule)],
    })
    assignments = pa.table({"experiment_id": np.full(n, "exp_email_subject"), "unit_id": customer_ids,
                            "variant": np.where(treat, "treatment", "control"),
                            "assigned_at": pa.array(assigned.astype("datetime64[us]"))})
    truth = {"experiment_id": "exp_email_subject", "p_control": p_c, "p_treatment": p_c * (1 + lift),
             "relative_lift": lift, "absolute_uplift": {"mobile": 2 * p_c * lift, "desktop": 0.0, "tablet": 0.0}, "window_days": 28, "orders_channel": "email",
             "propensity_drivers": {"recency_days": "x3 when the last purchase was 60 days or less before the start",
                                    "country": "x2 in the US"},
             "observed": {"control_rate": float(conv[~treat].mean()), "treatment_rate": float(conv[treat].mean())}}
    return {"experiments": experiments, "assignments": assignments, "_experiment_orders": exp_orders}, truth


#: Planted behavioural segments of store customers: (name, share, purchase days low-high, mean order value,
#: return probability per order, active share of the period).
STORE_SEGMENTS = (
    ("regulars", 0.40, (12, 20), 30.0, 0.02, 1.0),
    ("big_ticket", 0.15, (2, 4), 400.0, 0.05, 1.0),
    ("lapsed", 0.30, (1, 2), 40.0, 0.02, 0.25),
    ("returners", 0.15, (4, 8), 80.0, 0.45, 1.0),
)


def _store(rng: np.random.Generator, n: int, days: int) -> tuple[dict[str, pa.Table], dict]:
    """Store customers in planted behavioural segments (recoverable by clustering their orders)."""
    ids = np.char.add("s", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    seg = rng.choice(len(STORE_SEGMENTS), n, p=[x[1] for x in STORE_SEGMENTS])
    lo = np.array([x[2][0] for x in STORE_SEGMENTS])[seg]
    hi = np.array([x[2][1] for x in STORE_SEGMENTS])[seg]
    k = rng.integers(lo, hi + 1)
    span = (np.array([x[5] for x in STORE_SEGMENTS])[seg] * days).astype(int)
    who = np.repeat(np.arange(n), k)
    day = (rng.random(len(who)) * span[who]).astype(int)
    ts = np.datetime64(START.isoformat(), "s") + (day * 86400 + rng.integers(8, 20, len(who)) * 3600) \
        .astype("timedelta64[s]")
    value = np.round(np.array([x[3] for x in STORE_SEGMENTS])[seg[who]] * rng.lognormal(0, 0.25, len(who)), 2)
    is_return = rng.random(len(who)) < np.array([x[4] for x in STORE_SEGMENTS])[seg[who]]
    orders = pa.table({
        "order_id": np.char.add("st", np.arange(len(who)).astype(str)), "customer_id": ids[who],
        "ts": pa.array(ts.astype("datetime64[us]")), "revenue": value, "currency": np.full(len(who), "USD"),
        "channel": np.full(len(who), "store"), "items": rng.integers(1, 5, len(who)), "is_return": is_return})
    names = np.array([x[0] for x in STORE_SEGMENTS])
    truth = {"channel": "store", "customers": n, "names": names.tolist(),
             "shares": [x[1] for x in STORE_SEGMENTS],
             "definition": {x[0]: {"purchase_days": list(x[2]), "order_value": x[3], "return_probability": x[4],
                                   "active_share_of_period": x[5]} for x in STORE_SEGMENTS}}
    return {"_store_orders": orders,
            "_truth_store_segments": pa.table({"customer_id": ids, "segment": names[seg]})}, truth


def _recency_at(orders: pa.Table, ids: np.ndarray, days: int) -> np.ndarray:
    """Days from each customer's last order to the day before the experiment starts (NaN if none)."""
    day0 = (START + dt.timedelta(days=int(days * 0.4) - 1) - dt.date(1970, 1, 1)).days
    day = orders["ts"].to_numpy().astype("datetime64[D]").astype(np.int64)
    pos = np.searchsorted(ids, orders["customer_id"].to_numpy(zero_copy_only=False))
    last = np.full(len(ids), -np.inf)
    before = day <= day0
    np.maximum.at(last, pos[before], day[before].astype(float))
    return np.where(np.isfinite(last), day0 - last, np.nan)


def generate(size: str = "default", seed: int = 7) -> DemoData:
    """The demo company's tables and ground truth, reproducible from ``seed``."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}; got {size!r}")
    cfg = SIZES[size]
    rng = np.random.default_rng(seed)
    ads, t_ads = _ad_performance(rng, cfg["days"], np.random.default_rng([seed, 4]))
    people, t_people = _customers_and_journeys(rng, cfg["customers"], cfg["days"])
    media, t_media = _media(rng, cfg["weeks"])
    ids = people["customers"]["customer_id"].to_numpy(zero_copy_only=False)
    exp, t_exp = _experiment(rng, ids, cfg["days"], _recency_at(people["orders"], ids, cfg["days"]),
                             people["customers"]["country"].to_numpy(zero_copy_only=False),
                             people["_truth_customers"]["device"].to_numpy(zero_copy_only=False))
    # texts: their own stream (issue 24's topics and the product problem)
    content, t_content = demo_texts(np.random.default_rng([seed, 5]), ids, START, cfg["days"])
    # store customers draw from their own stream, so every draw above stays as it was
    store, t_store = _store(np.random.default_rng([seed, 1]), cfg["customers"] // 8, cfg["days"])
    # experiment and store purchases are ordinary orders (no country): one orders table holds all
    orders = pa.concat_tables([people.pop("orders"), exp.pop("_experiment_orders"), store.pop("_store_orders")],
                              promote_options="permissive")
    # what is in the orders: their own stream too (issue 20's tastes, repeat cycles and bundles)
    basket_rng = np.random.default_rng([seed, 2])
    products = catalogue(basket_rng)
    items, t_baskets, tastes = order_items(basket_rng, orders, products)
    offer_table, t_offers = offers(START, t_exp["experiment_id"])
    # the banner policy's decision log: its own stream too (issue 21)
    cust = people["customers"]
    log, t_decide = decision_log(np.random.default_rng([seed, 3]), ids,
                                 people["_truth_customers"]["device"].to_numpy(zero_copy_only=False),
                                 cust["consent_personalization"].to_numpy(zero_copy_only=False).astype(bool),
                                 START + dt.timedelta(days=cfg["days"]), days=min(42, cfg["days"] // 2),
                                 per_day=max(100, cfg["customers"] // 20))
    tables = {"ad_performance": ads, **people, "orders": orders, **media, **exp, "content": content, **store,
              "products": products, "order_items": items, "offers": offer_table, **log, "_truth_tastes": tastes}
    truth = {"size": size, "seed": seed, "start": START.isoformat(), "ad_performance": t_ads, **t_people,
             "mmm": t_media, "experiment": t_exp, "content": t_content, "store_segments": t_store,
             "baskets": t_baskets, "offers": t_offers, "decide": t_decide,
             "rows": {k: v.num_rows for k, v in tables.items() if not k.startswith("_")}}
    return DemoData(tables=tables, truth=truth)

