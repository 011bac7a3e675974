"""Adstock and saturation: the shapes of a channel's effect, written once for NumPy and JAX.

Every function takes the array module ``xp`` (``numpy`` or ``jax.numpy``) so the sampler and
the posterior summaries use the same formulas. Spend enters scaled (divided by the channel's
largest spend); adstock weights sum to 1, so a constant spend s adstocks to s and a channel's
steady-state response to a weekly spend s is ``beta * saturation(s / scale)``.

- geometric adstock: weight alpha^l at lag l (the effect decays from the week of spend);
- Weibull adstock: weights from a Weibull survival curve (``weibull_cdf``: decays, with a
  shape that can hold the effect before it drops) or density (``weibull_pdf``: can peak weeks
  after the spend), as in Robyn; ``shape`` and ``scale`` (a share of the window);
- logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))`` (PyMC-Marketing's default);
- Hill saturation ``x^s / (x^s + K^s)``: K is the half-saturation point, s the slope.
"""

from __future__ import annotations

import numpy as np

ADSTOCKS = ("geometric", "weibull_cdf", "weibull_pdf")
SATURATIONS = ("logistic", "hill")
#: the parameters of each shape, in the order the sampler and the saved model keep them
ADSTOCK_PARAMS = {"geometric": ("alpha",), "weibull_cdf": ("shape", "scale"), "weibull_pdf": ("shape", "scale")}
SATURATION_PARAMS = {"logistic": ("lam",), "hill": ("half_saturation", "slope")}


def lags(x: np.ndarray, lmax: int) -> np.ndarray:
    """(channels, periods, lmax): x[c, t - l], zero before the first period."""
    c, t = x.shape
    out = np.zeros((c, t, lmax))
    for lag in range(lmax):
        out[:, lag:, lag] = x[:, : t - lag]
    return out


def adstock_weights(kind: str, params: dict, lmax: int, xp=np):
    """(..., lmax) weights summing to 1; ``params`` values broadcast over leading axes."""
    lag = xp.arange(lmax, dtype=float)
    if kind == "geometric":
        w = xp.power(params["alpha"][..., None], lag)
    elif kind == "weibull_cdf":
        theta = params["scale"][..., None] * lmax
        w = xp.exp(-xp.power(lag / theta, params["shape"][..., None]))
    elif kind == "weibull_pdf":
        theta = params["scale"][..., None] * lmax
        k = params["shape"][..., None]
        z = (lag + 1.0) / theta
        w = k / theta * xp.power(z, k - 1.0) * xp.exp(-xp.power(z, k))
    else:
        raise ValueError(f"unknown adstock {kind!r}; adstocks: {', '.join(ADSTOCKS)}")
    return w / xp.sum(w, axis=-1, keepdims=True)


def saturation(kind: str, x, params: dict, xp=np):
    """The saturation curve at x (scaled spend), parameters broadcast against x."""
    if kind == "logistic":
        e = xp.exp(-params["lam"] * x)
        return (1.0 - e) / (1.0 + e)
    if kind == "hill":
        pos = x > 0
        safe = xp.where(pos, x, 1.0)  # 0^s has a NaN gradient in s: compute on 1 and mask
        ratio = xp.power(safe / params["half_saturation"], params["slope"])
        return xp.where(pos, ratio / (1.0 + ratio), 0.0)
    raise ValueError(f"unknown saturation {kind!r}; saturations: {', '.join(SATURATIONS)}")


def saturation_slope(kind: str, x: np.ndarray, params: dict) -> np.ndarray:
    """d saturation / dx (NumPy), for marginal returns and the optimizer's gradient."""
    if kind == "logistic":
        lam = params["lam"]
        e = np.exp(-lam * x)
        return 2.0 * lam * e / (1.0 + e) ** 2
    if kind == "hill":
        k, s = params["half_saturation"], params["slope"]
        safe = np.maximum(x, 1e-12)
        r = (safe / k) ** s
        return s * r / safe / (1.0 + r) ** 2
    raise ValueError(f"unknown saturation {kind!r}")


def media_path(x: np.ndarray, adstock: str, sat: str, params: dict, lmax: int) -> np.ndarray:
    """(draws, channels, periods) saturation(adstock(x)) of a scaled spend path x (channels,
    periods) under each draw's parameters ((draws, channels) arrays, adstock and saturation)."""
    w = adstock_weights(adstock, params, lmax)  # (D, C, L)
    ad = np.einsum("ctl,dcl->dct", lags(x, lmax), w)
    return saturation(sat, ad, {k: v[:, :, None] for k, v in params.items()})


def fourier(day_of_year: np.ndarray, order: int, period: float = 365.25) -> np.ndarray:
    """(periods, 2 * order) sine and cosine terms of a yearly (or other) cycle."""
    k = np.arange(1, order + 1)
    arg = 2 * np.pi * np.asarray(day_of_year, float)[:, None] * k / period
    return np.concatenate([np.sin(arg), np.cos(arg)], axis=1)


__all__ = ["ADSTOCKS", "ADSTOCK_PARAMS", "SATURATIONS", "SATURATION_PARAMS", "adstock_weights", "fourier", "lags",
           "media_path", "saturation", "saturation_slope"]
