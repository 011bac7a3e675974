"""A fitted media-mix model: its draws and what they predict; saving, finding and loading models."""


from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mercator.errors import MercatorError
from mercator.mmm._budget import Response
from mercator.mmm._model import (
    Design,
    LiftTest,
    Spec,
    baseline,
    contributions,
)
from mercator.mmm._transforms import SATURATION_PARAMS
from mercator.modelstore import find_saved, load_model

#: the interval every MMM figure carries
INTERVAL = (2.5, 97.5)
_SUFFIX = ".mercator-mmm"


@dataclass(frozen=True)
class MMModel:
    """A fitted media-mix model: its specification, data and posterior draws."""

    spec: Spec
    design: Design
    draws: dict
    kpi: str
    source: str
    knots: np.ndarray
    lift_tests: tuple[LiftTest, ...] = ()

    @property
    def channels(self) -> tuple[str, ...]:
        return self.spec.channels

    def response(self) -> Response:
        """The per-draw steady-state response curves (KPI per period for a spend per period)."""
        sat = {k: self.draws[k] for k in SATURATION_PARAMS[self.spec.saturation]}
        return Response(self.channels, self.spec.saturation, self.draws["beta"] * self.design.y_scale, sat,
                        self.design.x_scale)

    def contributions(self, spend: np.ndarray | None = None) -> np.ndarray:
        return contributions(self.draws, self.spec, self.design, spend)

    def predict(self, d: Design | None = None) -> np.ndarray:
        """(draws, periods) expected KPI."""
        d = d or self.design
        return (sum(baseline(self.draws, self.spec, d, self.knots).values())
                + contributions(self.draws, self.spec, d).sum(axis=1))

    def recent_spend(self, periods: int = 13) -> np.ndarray:
        """Mean spend per period over the last ``periods`` periods (the 'current' allocation)."""
        return self.design.spend[:, -periods:].mean(axis=1)


def load_mmm(path: str | Path) -> MMModel:
    saved = load_model(path)
    if "mmm" not in saved:
        raise MercatorError(f"{path}: not a media-mix model")
    return saved["mmm"]


def as_model(model) -> MMModel:
    """A fitted model from itself, a fit's result (its ``model``) or a saved model's path."""
    if isinstance(model, MMModel):
        return model
    if isinstance(getattr(model, "model", None), MMModel):
        return model.model
    return load_mmm(model)


def find_model(location: str | Path | None, model_id: str | None = None) -> Path:
    """The saved media-mix model ``model_id`` (its file name without ``.mercator-mmm``) beside
    a DuckDB workspace file ``location``; the most recent one when ``model_id`` is None."""
    return find_saved(location, _SUFFIX, "media-mix model", "mercator mmm fit", model_id)


def latest_model(location: str | Path | None) -> Path:
    """The most recently saved media-mix model beside a DuckDB workspace file ``location``
    (``None``: in ./models, where models of a Spark or no workspace go)."""
    return find_model(location)


def _q(a: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = np.percentile(a, INTERVAL, axis=axis)
    return a.mean(axis=axis), lo, hi

