"""Experiments: A/B tests from sufficient statistics (issue 7, in progress).

Built so far: the statistics core (``_stats``): means, proportions, ratio metrics by the
delta method and CUPED from per-variant sums, with Welch t or z intervals for the absolute and
relative effect; sample-ratio-mismatch check; Holm and Benjamini-Hochberg adjustment. Not yet:
design (power, sample size), engine aggregation, Bayesian, sequential, factorial tests,
incrementality, the CLI and the report (docs/experiments.md).
"""

from mercator.experiment._stats import Aggregates, Effect, Metric, adjust, compare, srm

__all__ = ["Aggregates", "Effect", "Metric", "adjust", "compare", "srm"]
