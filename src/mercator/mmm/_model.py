"""The Bayesian media-mix model: design, NumPyro model, NUTS fit, and posterior quantities.

KPI[t] = intercept + trend(t) + seasonality (Fourier) + controls . gamma
         + sum over channels of beta_c * saturation(adstock(spend_c))[t] + noise.

The trend is piecewise linear, as in Prophet: a slope, and slope changes at ``changepoints``
evenly spaced knots over the first 80% of the fitted span, with a sparse (Laplace) prior so
that the trend bends only where the data insist. A straight line is not enough: a curved
trend that the baseline misses is taken up by any channel whose spend trends too (on
PyMC-Marketing's mmm_roas data a straight trend tripled the ROAS error).

The KPI is divided by its largest absolute value and each channel's spend by its largest
spend before fitting (so one set of default priors suits any currency); everything reported
is in the data's own units. Lift tests enter as extra observations: a test that moved a
channel's weekly spend from s0 to s1 and measured a KPI change d (standard error e) adds
d ~ Normal(beta_c * (saturation(s1) - saturation(s0)), e), which pins that channel's curve.

NUTS runs in NumPyro on JAX (CPU); no library fits this model as fast on 2 cores
(PyMC-Marketing builds the same model in PyMC: see benchmarks/mmm.py). Everything after the
fit is NumPy over the posterior draws.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mercator.mmm._transforms import (
    ADSTOCK_PARAMS,
    ADSTOCKS,
    SATURATION_PARAMS,
    SATURATIONS,
    adstock_weights,
    fourier,
    lags,
    media_path,
    saturation,
)

#: default priors, on the scaled KPI and spend (name -> family and its parameters)
PRIORS: dict[str, tuple] = {
    "intercept": ("normal", 0.0, 2.0),
    "trend": ("normal", 0.0, 1.0),
    "trend_change": ("laplace", 0.0, 0.05),
    "season": ("laplace", 0.0, 1.0),
    "control": ("normal", 0.0, 2.0),
    "beta": ("half_normal", 2.0),
    "alpha": ("beta", 1.0, 3.0),
    "shape": ("gamma", 2.0, 1.0),
    "scale": ("beta", 2.0, 5.0),
    "lam": ("gamma", 3.0, 1.0),
    "half_saturation": ("gamma", 2.0, 2.0),
    "slope": ("gamma", 3.0, 2.0),
    "sigma": ("half_normal", 2.0),
}


@dataclass(frozen=True)
class Spec:
    """What the model holds: which shapes, how long the carryover window, which baseline terms,
    and prior overrides (``{"alpha": ("beta", 2, 2)}`` for all channels, or
    ``{"beta": {"tv": ("half_normal", 1.0)}}`` for one)."""

    channels: tuple[str, ...]
    controls: tuple[str, ...] = ()
    adstock: str = "geometric"
    saturation: str = "logistic"
    lmax: int = 8
    yearly_order: int = 2
    weekly_order: int = 0
    trend: bool = True
    changepoints: int = 10
    priors: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.adstock not in ADSTOCKS:
            raise ValueError(f"unknown adstock {self.adstock!r}; adstocks: {', '.join(ADSTOCKS)}")
        if self.saturation not in SATURATIONS:
            raise ValueError(f"unknown saturation {self.saturation!r}; saturations: {', '.join(SATURATIONS)}")
        unknown = set(self.priors) - set(PRIORS)
        if unknown:
            raise ValueError(f"no prior called {', '.join(sorted(unknown))}; priors: {', '.join(PRIORS)}")

    @property
    def media_params(self) -> tuple[str, ...]:
        return (*ADSTOCK_PARAMS[self.adstock], *SATURATION_PARAMS[self.saturation])

    def config(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class LiftTest:
    """A measured lift: the channel's weekly spend moved from ``spend_before`` to ``spend_after``
    and the KPI per week changed by ``delta_kpi`` (standard error ``sd``)."""

    channel: str
    spend_before: float
    spend_after: float
    delta_kpi: float
    sd: float


@dataclass(frozen=True)
class Design:
    """The data in model form: raw arrays and the scales that map them to the fitted ones."""

    dates: np.ndarray
    y: np.ndarray  # (T,)
    spend: np.ndarray  # (C, T)
    controls: np.ndarray  # (T, K)
    y_scale: float
    x_scale: np.ndarray  # (C,)
    c_scale: np.ndarray  # (K,)
    season: np.ndarray  # (T, S)
    t: np.ndarray  # (T,) in [0, 1] over the fitted span
    period_days: float

    @property
    def periods(self) -> int:
        return len(self.y)

    def head(self, n: int) -> Design:
        """The first n periods (the fitted span of a holdout check), scales kept."""
        return Design(self.dates[:n], self.y[:n], self.spend[:, :n], self.controls[:n], self.y_scale, self.x_scale,
                      self.c_scale, self.season[:n], self.t[:n], self.period_days)


def design(frame: pd.DataFrame, date_col: str, kpi: str, spec: Spec) -> Design:
    """Arrays, scales, seasonality and trend terms from a frame with one row per period."""
    f = frame.sort_values(date_col)
    dates = pd.to_datetime(f[date_col]).to_numpy()
    y = f[kpi].to_numpy(float)
    spend = f[list(spec.channels)].to_numpy(float).T
    ctrl = f[list(spec.controls)].to_numpy(float) if spec.controls else np.zeros((len(f), 0))
    x_scale = spend.max(axis=1)
    c_scale = np.abs(ctrl).max(axis=0) if ctrl.shape[1] else np.zeros(0)
    step = np.median(np.diff(dates).astype("timedelta64[D]").astype(float)) if len(dates) > 1 else 7.0
    doy = pd.DatetimeIndex(dates).dayofyear.to_numpy()
    terms = [fourier(doy, spec.yearly_order)] if spec.yearly_order else []
    if spec.weekly_order:
        terms.append(fourier(pd.DatetimeIndex(dates).dayofweek.to_numpy(), spec.weekly_order, period=7.0))
    season = np.concatenate(terms, axis=1) if terms else np.zeros((len(f), 0))
    t = np.arange(len(f)) / max(len(f) - 1, 1)
    return Design(dates, y, spend, ctrl, float(np.abs(y).max()), np.where(x_scale > 0, x_scale, 1.0),
                  np.where(c_scale > 0, c_scale, 1.0), season, t, float(step))


def _prior(name: str, spec: Spec, channels: tuple[str, ...] | None = None):
    """The NumPyro distribution of ``name`` (one per channel when ``channels`` is given)."""
    import numpyro.distributions as dist

    over = spec.priors.get(name)
    if channels is None or not isinstance(over, dict):
        fam, *args = over if isinstance(over, (tuple, list)) else PRIORS[name]
        args = [np.full(len(channels), float(a)) for a in args] if channels else [float(a) for a in args]
    else:
        rows = [over.get(c, PRIORS[name]) for c in channels]
        fams = {r[0] for r in rows}
        if len(fams) > 1:
            raise ValueError(f"prior {name}: one family for all channels, please (got {', '.join(sorted(fams))})")
        fam = fams.pop()
        args = [np.array([float(r[i + 1]) for r in rows]) for i in range(len(rows[0]) - 1)]
    families = {"normal": dist.Normal, "laplace": dist.Laplace, "half_normal": dist.HalfNormal, "beta": dist.Beta,
                "gamma": dist.Gamma, "lognormal": dist.LogNormal, "truncated_normal": None}
    if fam not in families or families[fam] is None:
        raise ValueError(f"prior {name}: unknown family {fam!r}; families: normal, laplace, half_normal, beta, "
                         "gamma, lognormal")
    return families[fam](*args)


def _numpyro_model(spec: Spec, data: dict, lift: dict | None, y=None):
    import jax.numpy as jnp
    import numpyro

    chans = spec.channels
    mu = numpyro.sample("intercept", _prior("intercept", spec))
    if spec.trend:
        mu = mu + numpyro.sample("trend", _prior("trend", spec)) * data["t"]
        if data["hinges"].shape[1]:
            k = data["hinges"].shape[1]
            mu = mu + data["hinges"] @ numpyro.sample("trend_change", _prior("trend_change", spec).expand([k])
                                                      .to_event(1))
    if data["season"].shape[1]:
        g = numpyro.sample("season", _prior("season", spec).expand([data["season"].shape[1]]).to_event(1))
        mu = mu + data["season"] @ g
    if data["controls"].shape[1]:
        g = numpyro.sample("control", _prior("control", spec).expand([data["controls"].shape[1]]).to_event(1))
        mu = mu + data["controls"] @ g
    beta = numpyro.sample("beta", _prior("beta", spec, chans).to_event(1))
    p = {n: numpyro.sample(n, _prior(n, spec, chans).to_event(1)) for n in spec.media_params}
    w = adstock_weights(spec.adstock, p, spec.lmax, jnp)  # (C, L)
    ad = jnp.einsum("ctl,cl->ct", data["lags"], w)
    sat = saturation(spec.saturation, ad, {k: v[:, None] for k, v in p.items()}, jnp)
    mu = mu + (beta[:, None] * sat).sum(axis=0)
    sigma = numpyro.sample("sigma", _prior("sigma", spec))
    numpyro.sample("y", numpyro.distributions.Normal(mu, sigma), obs=y)
    if lift is not None:
        c = lift["channel"]
        pc = {k: v[c] for k, v in p.items()}
        gain = beta[c] * (saturation(spec.saturation, lift["after"], pc, jnp)
                          - saturation(spec.saturation, lift["before"], pc, jnp))
        numpyro.sample("lift", numpyro.distributions.Normal(gain, lift["sd"]), obs=lift["delta"])


def _host_devices(n: int) -> None:
    """Let JAX see ``n`` CPU devices so chains run in parallel; only possible before JAX starts
    (later calls change nothing)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


# as early as this module loads: JAX reads the flag once, when it starts, and another import of
# jax (a notebook's, a test's) may come before the first fit
_host_devices(max(4, os.cpu_count() or 1))


def _compilation_cache() -> None:
    """Keep JAX's compiled samplers on disk (``$MERCATOR_JAX_CACHE``, default
    ``~/.cache/mercator/jax``), unless the caller set a cache of its own. Compiling NUTS for a
    model is most of a short fit (a 1-chain, 100 + 100 draw fit on 130 weeks: 17 s cold, 5.5 s
    with the cache; a second fit in the same process 2 s), and the same model on data of the
    same shape compiles to the same programs, so a refit, the API's fit beside the command
    line's, or the next session's fit skip it. JAX keys the cache on the program, its version
    and flags, so a stale entry is never used; a cache it cannot read is compiled around."""
    import jax

    if jax.config.jax_compilation_cache_dir:
        return
    folder = Path(os.environ.get("MERCATOR_JAX_CACHE") or Path.home() / ".cache" / "mercator" / "jax")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: compile every time, as before
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # NUTS compiles many small programs
    jax.config.update("jax_compilation_cache_max_size", 1 << 30)  # least recently used entries go past 1 GB


@dataclass(frozen=True)
class Posterior:
    """Posterior draws (chains flattened) and the per-parameter diagnostics."""

    draws: dict[str, np.ndarray]
    diagnostics: pd.DataFrame
    seconds: float
    divergences: int
    chains: int
    knots: np.ndarray


def fit(d: Design, spec: Spec, lift_tests: tuple[LiftTest, ...] = (), *, chains: int = 4, warmup: int = 1000,
        samples: int = 1000, seed: int = 0, target_accept: float = 0.9,
        progress: Callable[[str], None] | None = None) -> Posterior:
    """NUTS in NumPyro; one XLA host device per chain, so chains run in parallel threads (on 2
    cores, 4 chains this way took 10 s where vectorized chains took 22 s); vectorized when JAX
    started before it could be told about the devices."""
    _host_devices(max(chains, os.cpu_count() or 1))
    _compilation_cache()
    import jax
    from numpyro.diagnostics import summary
    from numpyro.infer import MCMC, NUTS

    knots = trend_knots(d.t, spec)
    data = {"t": d.t, "hinges": hinges(d.t, knots), "season": d.season, "controls": d.controls / d.c_scale,
            "lags": lags(d.spend / d.x_scale[:, None], spec.lmax)}
    lift = None
    if lift_tests:
        idx = {c: i for i, c in enumerate(spec.channels)}
        unknown = [t.channel for t in lift_tests if t.channel not in idx]
        if unknown:
            raise ValueError(f"lift test for {', '.join(unknown)}: not a channel of the model")
        lift = {"channel": np.array([idx[t.channel] for t in lift_tests]),
                "before": np.array([t.spend_before / d.x_scale[idx[t.channel]] for t in lift_tests]),
                "after": np.array([t.spend_after / d.x_scale[idx[t.channel]] for t in lift_tests]),
                "delta": np.array([t.delta_kpi / d.y_scale for t in lift_tests]),
                "sd": np.array([t.sd / d.y_scale for t in lift_tests])}
    method = "parallel" if jax.local_device_count() >= chains else "vectorized"
    mcmc = MCMC(NUTS(_numpyro_model, target_accept_prob=target_accept), num_warmup=warmup, num_samples=samples,
                num_chains=chains, chain_method=method, progress_bar=False)
    if progress:
        progress(f"NUTS: {chains} chains x ({warmup} warm-up + {samples} draws), {method}")
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed), spec, data, lift, y=d.y / d.y_scale)
    grouped = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    seconds = time.perf_counter() - t0
    stats = summary(grouped, group_by_chain=True)
    rows = []
    for name, s in stats.items():
        flat = np.atleast_1d(s["r_hat"]).ravel()
        ess = np.atleast_1d(s["n_eff"]).ravel()
        labels = _labels(name, spec, len(flat))
        rows += [{"parameter": lab, "r_hat": float(r), "ess": float(e)} for lab, r, e in zip(labels, flat, ess,
                                                                                              strict=True)]
    div = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    draws = {k: v.reshape(-1, *v.shape[2:]) for k, v in grouped.items()}
    return Posterior(draws, pd.DataFrame(rows), seconds, div, chains, knots)


def trend_knots(t: np.ndarray, spec: Spec) -> np.ndarray:
    """Where the trend may bend: evenly over the first 80% of the fitted span (Prophet's rule)."""
    if not spec.trend or spec.changepoints <= 0:
        return np.zeros(0)
    return np.linspace(0, 0.8 * t[-1], spec.changepoints + 1)[1:]


def hinges(t: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """(periods, knots) max(t - knot, 0): a slope change at each knot."""
    return np.maximum(t[:, None] - knots[None, :], 0.0)


def _labels(name: str, spec: Spec, n: int) -> list[str]:
    if name in ("beta", *spec.media_params) and n == len(spec.channels):
        return [f"{name}[{c}]" for c in spec.channels]
    if name == "control" and n == len(spec.controls):
        return [f"control[{c}]" for c in spec.controls]
    return [name] if n == 1 else [f"{name}[{i}]" for i in range(n)]


def media_params(draws: dict, spec: Spec) -> dict[str, np.ndarray]:
    """(draws, channels) arrays of each adstock and saturation parameter."""
    return {n: draws[n] for n in spec.media_params}


def contributions(draws: dict, spec: Spec, d: Design, spend: np.ndarray | None = None) -> np.ndarray:
    """(draws, channels, periods) contribution of each channel in KPI units, for the design's
    spend or another spend path ``spend`` (channels x periods, same units)."""
    x = (d.spend if spend is None else spend) / d.x_scale[:, None]
    sat = media_path(x, spec.adstock, spec.saturation, media_params(draws, spec), spec.lmax)
    return draws["beta"][:, :, None] * sat * d.y_scale


def baseline(draws: dict, spec: Spec, d: Design, knots: np.ndarray) -> dict[str, np.ndarray]:
    """(draws, periods) parts of the baseline in KPI units: intercept, trend (bending at
    ``knots``), seasonality and each control."""
    n = len(draws["intercept"])
    out = {"intercept": np.repeat(draws["intercept"][:, None], d.periods, axis=1) * d.y_scale}
    if spec.trend:
        out["trend"] = draws["trend"][:, None] * d.t[None, :] * d.y_scale
        if len(knots):
            out["trend"] = out["trend"] + draws["trend_change"] @ hinges(d.t, knots).T * d.y_scale
    if d.season.shape[1]:
        out["seasonality"] = draws["season"] @ d.season.T * d.y_scale
    for i, c in enumerate(spec.controls):
        out[c] = draws["control"][:, i, None] * (d.controls[:, i] / d.c_scale[i])[None, :] * d.y_scale
    assert all(v.shape == (n, d.periods) for v in out.values())
    return out


__all__ = ["PRIORS", "Design", "LiftTest", "Posterior", "Spec", "baseline", "contributions", "design", "fit",
           "hinges", "media_params", "trend_knots"]
