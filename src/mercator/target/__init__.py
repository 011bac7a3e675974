"""Target: propensity, churn and lead scoring. Who is likely to do what, and why.

>>> res = train_model(ws, "bank-full.csv", "y", exclude=["duration"], positive="yes")
>>> res.to_frame("metrics"), res.to_frame("gains"), res.params["model_path"]
>>> score_table(res.params["model_path"], ws, "new_leads.csv", "scores.csv")

Pure modelling lives in ``_model`` and ``_uplift``; ``_analysis`` reads the data, guards
against leakage, saves models with their configuration hash and library versions, and scores
in batches; ``_uplift_analysis`` holds the uplift learners' analyses and target lists.
"""

from mercator.modelstore import ModelMismatch
from mercator.target._analysis import (
    ScoreResult,
    TargetResult,
    load_model,
    read_table,
    score_frame,
    score_table,
    train_model,
)
from mercator.target._uplift_analysis import (
    ListSpec,
    TargetList,
    UpliftFit,
    UpliftResult,
    customer_frame,
    experiment_frame,
    experiment_rows,
    fit_uplift,
    target_list,
    uplift,
)

__all__ = ["ListSpec", "ModelMismatch", "ScoreResult", "TargetList", "TargetResult", "UpliftFit", "UpliftResult",
           "customer_frame", "experiment_frame", "experiment_rows", "fit_uplift", "load_model", "read_table",
           "score_frame", "score_table", "target_list", "train_model", "uplift"]
