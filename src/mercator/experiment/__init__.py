"""Experiments: A/B tests from sufficient statistics (issue 7, in progress).

Built so far: the statistics core (``_stats``): means, proportions, ratio metrics by the
delta method and CUPED from per-variant sums, with Welch t or z intervals for the absolute and
relative effect; sample-ratio-mismatch check; Holm and Benjamini-Hochberg adjustment; the
design formulas (``_design``: sample size, power, minimum detectable effect, duration); and
Bayesian readings and confidence sequences (``_bayes``); pre-registration locked by hash
(``_registry``). Not yet: engine aggregation, factorial tests, incrementality, verdicts, the
CLI and the report (docs/experiments.md).
"""

from mercator.experiment._bayes import beta_binomial, confidence_sequence, normal
from mercator.experiment._design import Baseline, duration_days, mde, power_at, sample_size
from mercator.experiment._registry import register, verify
from mercator.experiment._stats import Aggregates, Effect, Metric, adjust, compare, srm

__all__ = ["Aggregates", "Baseline", "Effect", "Metric", "adjust", "beta_binomial", "compare", "confidence_sequence",
           "duration_days", "mde", "normal", "power_at", "register", "sample_size", "srm", "verify"]
