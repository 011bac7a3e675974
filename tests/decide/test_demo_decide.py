"""The demo company's banner policy (truth.json "decide"): the summary finds the arm the
planted rates make best overall, counts the defaults served without consent, and shows the
learning; judged on the log, a policy that sees the device (where each device has its own
planted best arm) is estimated to earn more, and is recommended for promotion."""

from __future__ import annotations

from mercator.decide import evaluate_policy, load_policy, summarize_decisions


def test_the_banner_log_recovers_the_planted_arms(demo_company):
    ws, truth, _folder = demo_company
    t = truth["decide"]
    res = summarize_decisions(ws)
    assert res.params["policy"] == t["policy"] and res.params["best_arm"] == t["best_overall"]
    arms = res.to_frame("arms").set_index("arm")
    assert arms.decisions.sum() + res.to_frame("fallbacks").decisions.sum() == t["decisions"]
    days = res.to_frame("days")
    assert days.best_arm_share.iloc[-7:].mean() > days.best_arm_share.iloc[:7].mean() + 0.1  # it learned
    assert res.figures()


def test_a_policy_that_sees_the_device_is_estimated_to_earn_more(demo_company):
    """Planted: mobile's best arm earns 9%, desktop's 8.5%, tablet's 7.5%, while the one arm the
    context-free policy converges to earns 5-9% depending on the device. LinUCB on the device,
    trained on the first half of the log, beats it on the second half by the doubly robust
    estimate's lower bound (measured: 0.075, interval 0.068 to 0.082, against 0.063)."""
    ws, _truth, _folder = demo_company
    policy, _status = load_policy(ws, "homepage_hero")
    candidate = policy.to_dict() | {"bandit": "linucb", "alpha": 0.1}
    res = evaluate_policy(ws, candidate, resamples=300, now=4e9)
    dr = res.to_frame("estimates").set_index("estimator").loc["dr"]
    assert res.params["promote"], (dr.to_dict(), res.params["current_value"])
    assert dr.value > res.params["current_value"] * 1.1
