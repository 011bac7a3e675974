"""A policy's rules hold for every decision: eligibility, caps per person and scope, consent,
the default with its reason, exact propensities, and learning only within the attribution
window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercator.decide._policy import ContextError, Decider, parse_policy
from mercator.errors import BadParameter

SPEC = """
policy: hero
bandit: thompson
floor: 0.05
context: [device, country, hour]
default: generic
caps:
  - {scope: arm, max: 2, window: 1d}
  - {scope: campaign, max: 3, window: 7d}
arms:
  - {id: summer, campaign: sale, when: {device: [mobile], hour: [8, 22]}}
  - {id: winter, campaign: sale, when: {country: [US, GB]}}
  - {id: loyalty, campaign: club}
  - {id: generic}
"""


def test_eligibility_caps_and_the_default_with_its_reason():
    decider = Decider(parse_policy(SPEC), seed=0)
    night = decider.decide("p1", {"device": "mobile", "country": "DE", "hour": 23})
    assert night["eligible"] == "loyalty,generic"  # summer is for 8-22, winter for US and GB
    day = 86400.0
    out = [decider.decide("p2", {"device": "mobile", "country": "US", "hour": 12}, now=day + i) for i in range(9)]
    served = [o["arm"] for o in out if o["fallback_reason"] is None]
    # each arm at most 2 a day; campaign "sale" 3 a week: summer + winter together at most 3 times
    assert len(served) == 7 and sum(a in ("summer", "winter") for a in served) == 3
    assert all(served.count(a) <= 2 for a in set(served))
    assert out[-1]["fallback_reason"] == "every eligible arm is capped for this person: the default"
    assert out[-1]["arm"] == "generic" and out[-1]["propensity"] == 1.0
    later = decider.decide("p2", {"device": "mobile", "country": "US", "hour": 12}, now=day * 9)
    assert later["fallback_reason"] is None  # the windows have passed


def test_without_consent_the_default_and_no_learning():
    logged = []
    decider = Decider(parse_policy(SPEC), consenting=frozenset({"yes"}), log=logged.append, seed=0)
    no = decider.decide("no", {"device": "mobile"})
    assert no["arm"] == "generic" and no["fallback_reason"] == "no consent to personalization: the default"
    assert decider.decide(None, {})["fallback_reason"].startswith("no consent")
    assert decider.feedback(no["decision_id"], 1.0).startswith("not learned")
    assert len(logged) == 2 and logged[0]["decision_id"] == no["decision_id"]


def test_propensities_are_the_probabilities_the_arms_are_drawn_with():
    """Over 40,000 decisions in one context, each arm's share is within 0.01 of the propensity
    logged with it (Thompson sampling after some learning, floor 0.05)."""
    decider = Decider(parse_policy(SPEC.replace("caps:", "old_caps:").replace("  - {scope", "  # {scope")), seed=1)
    decider.learn(np.array([0, 0, 1, 2, 3, 1]), np.array([1, 1, 0, 1, 0, 1]))
    ctx = {"device": "mobile", "country": "US", "hour": 12}
    out = [decider.decide(None, ctx) for _ in range(40_000)]
    arms = np.array([o["arm"] for o in out])
    for arm in ("summer", "winter", "loyalty", "generic"):
        props = {o["propensity"] for o in out if o["arm"] == arm}
        assert len(props) == 1 and min(props) >= 0.05
        assert abs((arms == arm).mean() - props.pop()) <= 0.01


def test_rewards_are_learned_within_the_attribution_window_only():
    decider = Decider(parse_policy(SPEC.replace("default: generic", "default: generic\nattribution_window: 1h")),
                      seed=0)
    d = decider.decide("p", {"device": "mobile", "country": "US", "hour": 9}, now=0.0)
    late = decider.decide("q", {"device": "mobile", "country": "US", "hour": 9}, now=0.0)
    assert decider.feedback(d["decision_id"], 1.0, now=1800.0) == "learned"
    assert decider.feedback(d["decision_id"], 1.0, now=1801.0).startswith("not learned: unknown")
    assert decider.feedback(late["decision_id"], 1.0, now=7200.0) == "not learned: after the attribution window"
    assert decider.bandit.pulls.sum() == 1


@pytest.mark.parametrize(("context", "field"), [({"colour": "red"}, "colour"), ({"device": ["a"]}, "device"),
                                                ({"hour": "noon"}, "hour")])
def test_a_malformed_context_names_the_field(context, field):
    decider = Decider(parse_policy(SPEC), seed=0)
    with pytest.raises(ContextError) as err:
        decider.decide("p", context)
    assert err.value.field == field


@pytest.mark.parametrize(("change", "message"), [
    (("bandit: thompson", "bandit: greedy"), "bandit 'greedy' is not one of"),
    (("default: generic", "default: nothing"), "default 'nothing' is not one of its arms"),
    (("window: 1d", "window: daily"), r"caps\[0\]: 'daily' is not a duration"),
    (("when: {country", "when: {colour"), r"arms\[1\], when.colour: not a context key"),
    (("floor: 0.05", "floor: 0.5"), "floor 0.5 is impossible with 4 arms"),
])
def test_a_bad_policy_says_where(change, message):
    with pytest.raises(BadParameter, match=message):
        parse_policy(SPEC.replace(*change))


RANKED = """
policy: ranked
bandit: rules
floor: 0.05
context: [device]
purpose: null
default: c
suppress: [churned]
arms:
  - {id: a, when: {device: [mobile]}}
  - {id: b, product: sku1}
  - {id: c}
"""


def _shares(decider, person, context, n=4000):
    out = [decider.decide(person, context) for _ in range(n)]
    arms = [o["arm"] for o in out]
    return {a: arms.count(a) / n for a in set(arms)}, out


def test_rules_rank_by_the_policy_order_with_the_floor_and_exact_propensities():
    decider = Decider(parse_policy(RANKED), seed=3)
    shares, out = _shares(decider, "p1", {"device": "mobile"})
    assert shares["a"] == pytest.approx(0.90, abs=0.015) and shares["c"] == pytest.approx(0.05, abs=0.01)
    assert {o["arm"]: o["propensity"] for o in out} == pytest.approx({"a": 0.90, "b": 0.05, "c": 0.05})
    shares, _ = _shares(decider, "p1", {"device": "desktop"})
    assert shares["b"] == pytest.approx(0.95, abs=0.012)  # a is for mobile: b comes first


def test_scores_rank_each_person_and_thin_data_gets_the_default():
    spec = RANKED.replace("bandit: rules", "bandit: scores\nscores: {source: recs.csv}").replace("floor: 0.05",
                                                                                                 "floor: 0.1")
    decider = Decider(parse_policy(spec), seed=4, scores={"p1": {"a": 0.2, "b": 0.9}, "p2": {"zz": 1.0}})
    shares, out = _shares(decider, "p1", {"device": "mobile"})
    assert shares["b"] == pytest.approx(0.8, abs=0.02)
    assert {o["arm"]: o["propensity"] for o in out} == pytest.approx({"a": 0.1, "b": 0.8, "c": 0.1})
    thin = decider.decide("p2", {"device": "mobile"})
    reason = "no scores for this person among the eligible arms: the default"
    assert (thin["arm"], thin["fallback_reason"]) == ("c", reason)
    with pytest.raises(BadParameter, match="bandit scores needs scores"):
        parse_policy(RANKED.replace("bandit: rules", "bandit: scores"))


def test_suppressed_people_get_the_default_and_an_out_of_stock_arm_never_runs():
    decider = Decider(parse_policy(RANKED), seed=5, suppressed=frozenset({"p9"}), out_of_stock=frozenset({"sku1"}))
    gone = decider.decide("p9", {"device": "mobile"})
    assert (gone["arm"], gone["fallback_reason"]) == ("c", "suppressed: the default")
    shares, _ = _shares(decider, "p1", {"device": "desktop"}, n=500)
    assert "b" not in shares and shares == {"c": 1.0}


@settings(max_examples=60, deadline=None)
@given(consent=st.lists(st.booleans(), min_size=6, max_size=6),
       bandit=st.sampled_from(["thompson", "epsilon_greedy", "ucb1", "linucb", "lin_thompson", "uniform", "rules"]),
       device=st.sampled_from(["mobile", "desktop", None]), seed=st.integers(0, 2**16))
def test_no_personalized_choice_without_consent(consent, bandit, device, seed):
    """Property: over random consent states, bandits and contexts, every person without consent
    to the purpose gets the non-personalized default (propensity 1, the reason, nothing
    learned), and every person with it gets a choice of the policy."""
    people = [f"p{i}" for i in range(6)]
    spec = RANKED.replace("bandit: rules", f"bandit: {bandit}").replace("purpose: null", "purpose: personalization")
    decider = Decider(parse_policy(spec), seed=seed,
                      consenting=frozenset(p for p, ok in zip(people, consent, strict=True) if ok))
    for p, ok in zip(people * 3, consent * 3, strict=True):
        out = decider.decide(p, {"device": device} if device else {})
        if ok:
            assert out["fallback_reason"] is None and out["eligible"]
        else:
            assert (out["arm"], out["propensity"], out["eligible"]) == ("c", 1.0, "")
            assert out["fallback_reason"] == "no consent to personalization: the default"
            assert out["decision_id"] not in decider._pending
