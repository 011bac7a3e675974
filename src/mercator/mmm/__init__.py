"""Media-mix model and budget allocation: where the next dollar should go.

>>> res = fit_mmm("mmm_example.csv", date_col="date_week", kpi="y", channels=["x1", "x2"],
...               controls=["event_1", "event_2"])
>>> res.to_frame("roas"), res.to_frame("fit"), res.params["model_path"]
>>> optimize_budget(res.params["model_path"], budget=0.47).to_frame("allocation")
>>> scenario(res.params["model_path"], {"x1": -0.15, "x2": +0.15}).findings

A Bayesian model (``_model``: adstock, saturation, trend, seasonality, controls, lift tests;
NUTS in NumPyro) is fitted to one row per period; its posterior draws are saved with the
workspace's models. The budget tools (``_budget``) work on those draws: every figure they give
comes with an interval over the posterior.
"""

from mercator.mmm._analysis import MMMResult, fit_mmm
from mercator.mmm._budget import Response, brute_force, optimize
from mercator.mmm._data import holiday_counts, media_frame, read_lift_tests
from mercator.mmm._fitted import INTERVAL, MMModel, find_model, latest_model, load_mmm
from mercator.mmm._model import PRIORS, LiftTest
from mercator.mmm._plans import (
    BudgetResult,
    PlanResult,
    ScenarioResult,
    optimize_budget,
    parse_bounds,
    parse_shift,
    plan,
    scenario,
)
from mercator.mmm._transforms import ADSTOCKS, SATURATIONS

__all__ = ["ADSTOCKS", "INTERVAL", "PRIORS", "SATURATIONS", "BudgetResult", "LiftTest", "MMMResult", "MMModel",
           "PlanResult", "Response", "ScenarioResult", "brute_force", "find_model", "fit_mmm",
           "holiday_counts", "latest_model", "load_mmm", "media_frame", "optimize", "optimize_budget", "parse_bounds",
           "parse_shift", "plan", "read_lift_tests", "scenario"]
