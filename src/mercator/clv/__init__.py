"""Customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend, from ``orders``.

>>> from mercator.clv import fit_clv
>>> res = fit_clv(ws, calibration_end=dt.date(1997, 9, 30))   # holdout: the orders after it
>>> res.to_frame("params"), res.to_frame("holdout_by_frequency"), res.to_frame("customers")

The summary per customer is computed in the engine (``_summary``); the models are fitted on
its distinct rows with counts as weights (``_models``), so millions of customers fit in
seconds.
"""

from mercator.clv._analysis import (
    BetaGeo,
    ClvResult,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    clv_from_summary,
    customer_summary,
    fit_clv,
)

__all__ = ["BetaGeo", "ClvResult", "GammaGamma", "ModifiedBetaGeo", "ParetoNBD", "clv_from_summary",
           "customer_summary", "fit_clv"]
