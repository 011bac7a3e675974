"""Experiments: design, analysis, sequential reading, factorial tests and incrementality.

Pure statistics (no I/O): ``_stats`` (means, proportions, ratio metrics by the delta method,
CUPED, Welch t or z, SRM, Holm/BH), ``_design`` (sample size, power, MDE, duration),
``_bayes`` (beta-binomial and normal readings, confidence sequences), ``_factorial`` (2^k main
effects and interactions), ``_impact`` (CausalImpact-style counterfactual, difference in
differences). Engine and workspace: ``_engine`` (sufficient statistics in one GROUP BY, the
units of a workspace experiment), ``_registry`` (pre-registration locked by hash).
``_analysis`` turns them into results: ``analyze``, ``design``, ``impact`` (docs/experiments.md).
"""

from mercator.experiment._analysis import (
    ExperimentResult,
    Guardrail,
    analyze,
    parse_split,
    review,
)
from mercator.experiment._bayes import beta_binomial, confidence_sequence, normal
from mercator.experiment._design import (
    Baseline,
    DesignResult,
    design,
    duration_days,
    mde,
    power_at,
    sample_size,
)
from mercator.experiment._engine import aggregate, experiment_units
from mercator.experiment._impact_analysis import ImpactResult, impact
from mercator.experiment._registry import Registration, criteria_hash, register, verify
from mercator.experiment._stats import Aggregates, Effect, Metric, adjust, compare, srm

__all__ = ["Aggregates", "Baseline", "DesignResult", "Effect", "ExperimentResult", "Guardrail",
           "ImpactResult", "Metric", "Registration", "adjust", "aggregate", "analyze", "beta_binomial", "compare",
           "confidence_sequence", "criteria_hash", "design", "duration_days", "experiment_units", "impact", "mde", "normal",
           "parse_split", "power_at", "register", "review", "sample_size", "srm", "verify"]
