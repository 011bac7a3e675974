"""BG/NBD and Gamma-Gamma by maximum likelihood: pure NumPy/SciPy, no I/O.

Written here rather than taken from ``lifetimes`` (unmaintained since 2020, its fitter
differentiates through autograd one customer at a time) or PyMC-Marketing (Bayesian,
minutes per fit): the likelihoods are a few lines each, and fitting them on the *distinct*
customer summaries with counts as weights makes millions of customers cost as much as the
few hundred thousand distinct (x, t_x, T) triples they share. Gradients are analytic, the
special functions of x are evaluated once per distinct x, and L-BFGS-B runs on log
parameters.

Notation (Fader, Hardie and Lee 2005, "Counting your customers the easy way"): for each
customer ``x`` repeat purchases, ``t_x`` the time of the last one and ``T`` the time since
the first purchase, all in the same unit (weeks by default in Mercator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, digamma, gammaln, hyp2f1


def _fit(nll_grad, start: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Minimize ``nll_grad`` (value and gradient in log parameters); return the parameters, the
    log-likelihood and success."""
    res = optimize.minimize(nll_grad, np.log(start), jac=True, method="L-BFGS-B",
                            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-10})
    # a line search that cannot improve at this precision still sits at the optimum when the
    # gradient is flat: judge convergence by the gradient, not by the optimizer's message
    ok = bool(res.success) or float(np.max(np.abs(res.jac))) < 1e-5
    return np.exp(res.x), -float(res.fun), ok


def _per_value(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``x`` and each element's index into them (special functions of x are
    evaluated once per distinct value: purchase counts take few values)."""
    ux, inv = np.unique(x, return_inverse=True)
    return ux, inv.ravel()


# -- BG/NBD and MBG/NBD ---------------------------------------------------------------------------

def bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                 modified: bool = False) -> np.ndarray:
    """Each customer's log-likelihood under BG/NBD (FHL 2005, equation 6), or under the modified
    BG/NBD (Batislam, Denizel and Filiztekin 2007), where a customer may also drop out right
    after the first purchase."""
    r, alpha, a, b = params
    k = 1 if modified else 0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x + k) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        a4 = np.where((x > 0) | modified, np.log(a) - np.log(np.maximum(b + x - 1 + k, 1e-300))
                      - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


@dataclass(frozen=True)
class BetaGeo:
    """A fitted BG/NBD model (``MODIFIED``: the MBG/NBD variant)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool

    MODIFIED: ClassVar[bool] = False
    NAME: ClassVar[str] = "bg_nbd"

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])

    @classmethod
    def fit(cls, x, t_x, T, weights=None) -> BetaGeo:
        """Maximum likelihood; ``weights`` counts identical customers (see ``distinct``)."""
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        w = np.ones_like(x) if weights is None else np.asarray(weights, float)
        if (t_x > T + 1e-9).any() or (x < 0).any():
            raise ValueError("each customer needs 0 <= t_x <= T and x >= 0")
        scale = float(np.mean(T)) or 1.0  # fit on rescaled time (alpha is scaled back): better conditioned
        ux, ix = _per_value(x)
        ts, Ts = t_x / scale, T / scale
        k = 1 if cls.MODIFIED else 0
        has4 = (x > 0) | cls.MODIFIED  # customers whose history allows a drop-out already
        wsum = w.sum()

        def nll_grad(logp: np.ndarray) -> tuple[float, np.ndarray]:
            # the log-likelihood and its derivatives; terms in x alone come from the distinct x
            r, alpha, a, b = np.exp(logp)
            a1 = (gammaln(r + ux) - gammaln(r))[ix] + r * np.log(alpha)
            a2 = (betaln(a, b + ux + k) - betaln(a, b))[ix]
            la_T, la_t = np.log(alpha + Ts), np.log(alpha + ts)
            a3 = -(r + x) * la_T
            den = np.where((ux > 0) | cls.MODIFIED, b + ux - 1 + k, 1.0)
            a4 = np.where(has4, np.log(a) - np.log(den)[ix] - (r + x) * la_t, -np.inf)
            lse = np.logaddexp(a3, a4)
            ll = w @ (a1 + a2 + lse)
            p3, p4 = np.exp(a3 - lse), np.exp(a4 - lse)
            d_r = (digamma(r + ux) - digamma(r))[ix] + np.log(alpha) - p3 * la_T - p4 * la_t
            d_alpha = r / alpha - (r + x) * (p3 / (alpha + Ts) + p4 / (alpha + ts))
            dab = (digamma(a + b) - digamma(a + b + ux + k))[ix]
            d_a = dab + p4 / a
            d_b = dab + (digamma(b + ux + k) - digamma(b))[ix] - np.where(has4, p4 / den[ix], 0.0)
            grad = np.array([w @ d_r * r, w @ d_alpha * alpha, w @ d_a * a, w @ d_b * b])
            return -float(ll) / wsum, -grad / wsum

        p, ll, ok = _fit(nll_grad, np.array([1.0, 1.0, 1.0, 1.0]))
        # log-likelihood on the original time unit: rescaling time by s adds r * ln(s) - (r + x) * ln(s)
        ll_orig = ll * wsum - float(w @ (x * np.log(scale)))
        return cls(r=p[0], alpha=p[1] * scale, a=p[2], b=p[3], log_likelihood=ll_orig, n_customers=int(wsum),
                   converged=ok)

    def _odds_dead(self, x, t_x, T) -> np.ndarray:
        r, alpha, a, b = self.params
        k = 1 if self.MODIFIED else 0
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = a / np.maximum(b + x - 1 + k, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return np.where((x > 0) | self.MODIFIED, odds, 0.0)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """Probability the customer is still active at T."""
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        return 1.0 / (1.0 + self._odds_dead(x, t_x, T))

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """Expected purchases in (T, T + t] given the customer's history (FHL 2005, equation 10)."""
        r, alpha, a, b = self.params
        k = 1 if self.MODIFIED else 0
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        z = t / (alpha + T + t)
        head = (a + b + x - 1 + k) / (a - 1)
        body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x + k, a + b + x - 1 + k, z)
        return head * body / (1.0 + self._odds_dead(x, t_x, T))

    def expected_purchases_new(self, t) -> np.ndarray:
        """Expected repeat purchases in (0, t] of a customer who has just made a first purchase."""
        return self.expected_purchases(t, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ModifiedBetaGeo(BetaGeo):
    """A fitted MBG/NBD model: like BG/NBD, but a customer may drop out right after the first purchase."""

    MODIFIED: ClassVar[bool] = True
    NAME: ClassVar[str] = "mbg_nbd"


# -- Pareto/NBD ----------------------------------------------------------------------------------

def _pnbd_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """log of 1 / ((alpha+T)^(r+x) (beta+T)^s) and of s / (r+s+x) A0 (Fader, Hardie and Lee 2005
    note on the Pareto/NBD likelihood), per customer."""
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        c, b2, w = alpha, s + 1, alpha - beta
    else:
        c, b2, w = beta, r + x, beta - alpha
    l1 = np.log(hyp2f1(rsx, b2, rsx + 1, w / (c + t_x))) - rsx * np.log(c + t_x)
    l2 = np.log(hyp2f1(rsx, b2, rsx + 1, w / (c + T))) - rsx * np.log(c + T)
    with np.errstate(divide="ignore"):
        log_a0 = l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0)))  # -inf when t_x = T: that term is 0
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    return alive, np.log(s) - np.log(rsx) + log_a0


@dataclass(frozen=True)
class ParetoNBD:
    """A fitted Pareto/NBD model (Schmittlein, Morrison and Colombo 1987): purchase rate ~ Gamma(r,
    alpha), lifetime exponential with rate ~ Gamma(s, beta)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: int
    converged: bool

    NAME: ClassVar[str] = "pareto_nbd"

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.s, self.beta])

    @classmethod
    def fit(cls, x, t_x, T, weights=None) -> ParetoNBD:
        """Maximum likelihood (numerical gradient: the likelihood's 2F1 terms have no short one)."""
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        w = np.ones_like(x) if weights is None else np.asarray(weights, float)
        scale = float(np.mean(T)) or 1.0
        ts, Ts, wsum = t_x / scale, T / scale, w.sum()

        def nll(logp: np.ndarray) -> float:
            p = np.exp(logp)
            alive, dead = _pnbd_terms(p, x, ts, Ts)
            ll = gammaln(p[0] + x) - gammaln(p[0]) + p[0] * np.log(p[1]) + p[2] * np.log(p[3]) \
                + np.logaddexp(alive, dead)
            v = -float(w @ ll) / wsum
            return v if np.isfinite(v) else 1e300

        res = optimize.minimize(nll, np.zeros(4), method="L-BFGS-B",
                                options={"maxiter": 5000, "ftol": 1e-14, "gtol": 1e-9})
        p = np.exp(res.x)
        # rescaling time by k: alpha^r beta^s terms and the (.)^-(r+x) (.)^-s terms leave -x ln k
        ll = -res.fun * wsum - float(w @ (x * np.log(scale)))
        return cls(r=p[0], alpha=p[1] * scale, s=p[2], beta=p[3] * scale, log_likelihood=ll,
                   n_customers=int(wsum), converged=bool(res.success))

    def p_alive(self, x, t_x, T) -> np.ndarray:
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        alive, dead = _pnbd_terms(self.params, x, t_x, T)
        return 1.0 / (1.0 + np.exp(dead - alive))

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """Expected purchases in (T, T + t] given the history (Schmittlein et al. 1987)."""
        r, alpha, s, beta = self.params
        x, T = np.asarray(x, float), np.asarray(T, float)
        head = (r + x) * (beta + T) / ((alpha + T) * (s - 1))
        return head * (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) * self.p_alive(x, t_x, T)


# -- Gamma-Gamma -------------------------------------------------------------------------------

def gamma_gamma_loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each repeat buyer's log-likelihood of mean spend ``m`` over ``x`` purchases (Fader-Hardie 2013)."""
    p, q, g = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * np.log(m)
            + px * np.log(x) - (px + q) * np.log(g + x * m))


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model (``gamma`` is lifetimes' ``v``)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    converged: bool

    @classmethod
    def fit(cls, x, m, weights=None) -> GammaGamma:
        """Maximum likelihood over customers with ``x >= 1`` repeat purchases and mean spend ``m > 0``."""
        x, m = np.asarray(x, float), np.asarray(m, float)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        w = np.ones_like(x) if weights is None else np.asarray(weights, float)[keep]
        if w.sum() < 3:
            raise ValueError("the Gamma-Gamma model needs at least 3 repeat buyers with positive spend")
        scale = float(np.average(m, weights=w))  # money rescaled for the fit; gamma scaled back
        ms = m / scale
        log_m, log_x, wsum = np.log(ms), np.log(x), w.sum()

        def nll_grad(logp: np.ndarray) -> tuple[float, np.ndarray]:
            p, q, g = np.exp(logp)
            px = p * x
            lg = np.log(g + x * ms)
            ll = w @ gamma_gamma_loglik((p, q, g), x, ms)
            dig = digamma(px + q)
            d_p = x * (dig - digamma(px) + log_m + log_x - lg)
            d_q = dig - digamma(q) + np.log(g) - lg
            d_g = q / g - (px + q) / (g + x * ms)
            grad = np.array([w @ d_p * p, w @ d_q * q, w @ d_g * g])
            return -float(ll) / wsum, -grad / wsum

        est, ll, ok = _fit(nll_grad, np.array([1.0, 1.0, 1.0]))
        ll_orig = (ll - np.log(scale)) * w.sum()  # density of m: the Jacobian of the rescaling
        return cls(p=est[0], q=est[1], gamma=est[2] * scale, log_likelihood=ll_orig, n_customers=int(w.sum()),
                   converged=ok)

    def expected_spend(self, x, m) -> np.ndarray:
        """E[mean spend | x, m]: a weighted mean of the population mean and the customer's own."""
        x, m = np.asarray(x, float), np.asarray(m, float)
        mean_pop = self.p * self.gamma / (self.q - 1) if self.q > 1 else np.nan
        w_own = self.p * x / (self.p * x + self.q - 1)
        return np.where(x > 0, (1 - w_own) * mean_pop + w_own * np.nan_to_num(m), mean_pop)

    @property
    def population_mean_spend(self) -> float:
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("nan")


def distinct(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The distinct rows of ``columns``, their counts, and each input row's index into them
    (a hash group-by: 20x faster than sorting with ``np.unique(axis=0)`` at a million rows)."""
    frame = pd.DataFrame({i: np.asarray(c, float) for i, c in enumerate(columns)})
    groups = frame.groupby(list(frame.columns), sort=False)
    inverse = groups.ngroup().to_numpy()
    first = groups.head(1)  # each group's first row, in group order
    counts = np.bincount(inverse).astype(float)
    return [first[i].to_numpy() for i in frame.columns], counts, inverse


__all__ = ["BetaGeo", "GammaGamma", "ModifiedBetaGeo", "ParetoNBD", "bgnbd_loglik", "distinct",
           "gamma_gamma_loglik"]
