"""Which response curve and carryover the data support, chosen by PSIS-LOO.

A logistic curve is concave from zero; a Hill curve can be S-shaped (nothing until a
threshold, then a climb). Fitted with the wrong one, a channel's ROAS can be off by a third
with intervals that miss (issue 18, item 14). So by default (``"auto"``) candidate pairs of
adstock and saturation are fitted with a short run (2 chains x 300 draws: enough for an
estimate of expected predictive accuracy; most of its cost is compiling the sampler),
scored by the expected log predictive density from Pareto-smoothed importance-sampling
leave-one-out cross-validation (Vehtari, Gelman and Gabry 2017; ArviZ's ``loo``), and the
chosen one is fitted in full. Within one standard error of the difference the simpler
candidate (listed first) is kept, as the one-standard-error rule does with
cross-validation.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from mercator.mmm._model import Design, LiftTest, Posterior, Spec, baseline, contributions, fit
from mercator.results import Finding

#: (adstock, saturation) pairs tried by "auto", simplest first.
CANDIDATES = (("geometric", "logistic"), ("geometric", "hill"), ("weibull_pdf", "logistic"),
              ("weibull_pdf", "hill"))
AUTO = "auto"
#: The short run that scores a candidate (and predicts the holdout check).
SELECT_RUN = {"chains": 2, "warmup": 300, "samples": 300}


def pointwise_loglik(draws: dict, spec: Spec, d: Design, knots: np.ndarray) -> np.ndarray:
    """(draws, periods) log density of each observed KPI under each posterior draw."""
    mu = sum(baseline(draws, spec, d, knots).values()) + contributions(draws, spec, d).sum(axis=1)
    sigma = np.asarray(draws["sigma"]).reshape(-1, 1) * d.y_scale
    return stats.norm.logpdf(d.y[None, :], mu, sigma)


def loo(loglik: np.ndarray, chains: int) -> tuple[float, np.ndarray, float]:
    """PSIS-LOO: (elpd, pointwise elpd, largest Pareto k) of a (draws, periods) log density."""
    per_chain = loglik.reshape(chains, -1, loglik.shape[1])
    # ArviZ announces its 1.0 refactor on import and warns of large Pareto k (the table keeps k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        idata = az.from_dict(posterior={"draw_index": np.zeros(per_chain.shape[:2])},
                             log_likelihood={"y": per_chain})
        res = az.loo(idata, pointwise=True)
    return float(res.elpd_loo), np.asarray(res.loo_i), float(np.nanmax(np.asarray(res.pareto_k)))


def choose(d: Design, spec: Spec, lift: tuple[LiftTest, ...], adstock: str, saturation: str, *, seed: int = 0,
           progress: Callable[[str], None] | None = None) -> tuple[Spec, pd.DataFrame, Posterior]:
    """The spec to fit in full, the table of candidates with their scores, and the chosen
    candidate's short-run posterior (on ``d``).

    ``adstock`` and ``saturation`` are a name each, or ``"auto"`` to let the data choose. Both
    auto: the saturation is chosen first (with geometric adstock), then the adstock with that
    saturation, so three short runs rather than four (each costs mostly its compile time)."""
    saturations = list(dict.fromkeys(s for _, s in CANDIDATES)) if saturation == AUTO else [saturation]
    adstocks = list(dict.fromkeys(a for a, _ in CANDIDATES)) if adstock == AUTO else [adstock]
    scored: dict[tuple[str, str], tuple] = {}

    def score(a: str, s: str) -> None:
        if (a, s) in scored:
            return
        if progress:
            progress(f"choosing the curve: {a} adstock, {s} saturation (short run)")
        cand = dataclasses.replace(spec, adstock=a, saturation=s)
        post = fit(d, cand, lift, seed=seed, **SELECT_RUN)
        scored[(a, s)] = (post, *loo(pointwise_loglik(post.draws, cand, d, post.knots), SELECT_RUN["chains"]))

    def best(pairs: list[tuple[str, str]]) -> tuple[str, str]:
        """One-standard-error rule: the simplest pair within one SE of the best."""
        for p in pairs:
            score(*p)
        top = max(pairs, key=lambda p: scored[p][1])
        for p in pairs:  # in order of simplicity
            diff = scored[p][2] - scored[top][2]
            if diff.sum() >= -np.sqrt(len(diff) * np.var(diff)):
                return p
        return top

    first = adstocks[0]
    chosen = best([(first, s) for s in saturations])
    chosen = best([(a, chosen[1]) for a in adstocks])
    ref = scored[chosen][2]
    table = pd.DataFrame([{"adstock": a, "saturation": s, "elpd_loo": elpd, "elpd_diff": elpd - scored[chosen][1],
                           "diff_se": float(np.sqrt(len(ref) * np.var(point - ref))), "max_pareto_k": k,
                           "divergences": post.divergences, "seconds": round(post.seconds, 2),
                           "chosen": (a, s) == chosen}
                          for (a, s), (post, elpd, point, k) in scored.items()])
    return dataclasses.replace(spec, adstock=chosen[0], saturation=chosen[1]), table, scored[chosen][0]


def choice_finding(choice: pd.DataFrame) -> Finding:
    """The sentence that states which curve was chosen, and against what."""
    row = choice[choice["chosen"]].iloc[0]
    others = choice[~choice["chosen"]]
    if others.empty:
        return Finding(f"Curve: {row.adstock} adstock, {row.saturation} saturation.")
    best_other = others.loc[others["elpd_loo"].idxmax()]
    return Finding(f"Curve chosen from the data (PSIS-LOO over {len(choice)} candidates): {row.adstock} adstock, "
                   f"{row.saturation} saturation, expected log predictive density {row.elpd_loo:,.1f} against "
                   f"{best_other.elpd_loo:,.1f} for {best_other.adstock} + {best_other.saturation} (the simplest "
                   f"within one standard error of the best is kept).", value=float(row.elpd_loo))
