"""Adstock and saturation against direct formulas: the demo company's own convolution, numeric
derivatives, and the JAX versions the sampler uses."""

from __future__ import annotations

import numpy as np
import pytest

from mercator.demo import geometric_adstock, hill
from mercator.mmm._transforms import (
    adstock_weights,
    fourier,
    lags,
    media_path,
    saturation,
    saturation_slope,
)


def test_geometric_adstock_equals_a_convolution():
    """Normalized geometric adstock = the demo's unnormalized convolution / sum of alpha^l."""
    rng = np.random.default_rng(0)
    x = rng.gamma(2, 10, 60)
    alpha, lmax = 0.6, 12
    w = adstock_weights("geometric", {"alpha": np.array([alpha])}, lmax)[0]
    np.testing.assert_allclose(lags(x[None, :], lmax)[0] @ w,
                               geometric_adstock(x, alpha, lmax) / ((1 - alpha**lmax) / (1 - alpha)), rtol=1e-12)


@pytest.mark.parametrize("kind,params", [("geometric", {"alpha": 0.5}), ("weibull_cdf", {"shape": 2.0, "scale": 0.3}),
                                         ("weibull_pdf", {"shape": 3.0, "scale": 0.4})])
def test_adstock_weights_sum_to_one_so_constant_spend_stays(kind, params):
    w = adstock_weights(kind, {k: np.array([v]) for k, v in params.items()}, 8)[0]
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    ad = lags(np.full((1, 30), 5.0), 8)[0] @ w
    np.testing.assert_allclose(ad[8:], 5.0)


def test_weibull_pdf_can_peak_after_the_spend():
    w = adstock_weights("weibull_pdf", {"shape": np.array([4.0]), "scale": np.array([0.5])}, 10)[0]
    assert 2 <= int(np.argmax(w)) <= 6
    c = adstock_weights("weibull_cdf", {"shape": np.array([0.8]), "scale": np.array([0.2])}, 10)[0]
    assert int(np.argmax(c)) == 0 and (np.diff(c) <= 0).all()


def test_saturation_curves_and_slopes():
    x = np.linspace(0.01, 3, 50)
    np.testing.assert_allclose(saturation("hill", x, {"half_saturation": 0.7, "slope": 1.5}), hill(x, 0.7, 1.5))
    np.testing.assert_allclose(saturation("logistic", x, {"lam": 2.0}), np.tanh(x))  # (1-e^-2x)/(1+e^-2x)
    h = 1e-6
    for kind, p in (("hill", {"half_saturation": 0.7, "slope": 2.5}), ("logistic", {"lam": 3.0})):
        numeric = (saturation(kind, x + h, p) - saturation(kind, x - h, p)) / (2 * h)
        np.testing.assert_allclose(saturation_slope(kind, x, p), numeric, rtol=1e-5)
    assert saturation("hill", np.array([0.0]), {"half_saturation": 0.5, "slope": 0.7})[0] == 0.0


def test_jax_and_numpy_agree():
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(1)
    p = {"alpha": rng.uniform(0.1, 0.8, (5, 3)), "half_saturation": rng.uniform(0.2, 1, (5, 3)),
         "slope": rng.uniform(0.5, 3, (5, 3))}
    w_np = adstock_weights("geometric", p, 6)
    w_jx = np.asarray(adstock_weights("geometric", {k: jnp.asarray(v) for k, v in p.items()}, 6, jnp))
    np.testing.assert_allclose(w_np, w_jx, rtol=1e-6)
    x = rng.uniform(0, 1, (3, 20))
    path = media_path(x, "geometric", "hill", p, 6)  # (draws, channels, periods)
    assert path.shape == (5, 3, 20)
    d, c = 2, 1
    direct = hill(lags(x, 6)[c] @ w_np[d, c], p["half_saturation"][d, c], p["slope"][d, c])
    np.testing.assert_allclose(path[d, c], direct, rtol=1e-12)


def test_fourier_terms():
    f = fourier(np.array([0, 91.3125, 182.625]), 1)
    np.testing.assert_allclose(f, [[0, 1], [1, 0], [0, -1]], atol=1e-12)
