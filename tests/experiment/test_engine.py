"""Sufficient statistics computed in the engine equal NumPy's on the same rows, on DuckDB and
on Spark; merging groups by the parallel formula equals computing on the union."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mercator.errors import MercatorError
from mercator.experiment import Aggregates, Metric, aggregate


def _units(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"variant": rng.choice(["control", "b", "c"], n), "device": rng.choice(["mobile", "desktop"], n),
                       "sessions": rng.poisson(3, n) + 1})
    df["converted"] = (rng.random(n) < 0.1).astype(int)
    df["revenue"] = df.converted * rng.gamma(2, 30, n) + 1e6  # a large offset: precision of the variances
    df["pre_revenue"] = df.revenue * 0.3 + rng.gamma(2, 10, n)
    return df


METRICS = [Metric("converted"), Metric("revenue", covariate="pre_revenue"), Metric("revenue", "sessions")]


def test_engine_aggregates_equal_numpy(ws):
    """Reference: np.mean and np.cov (ddof 1) per (variant, device) group."""
    df = _units()
    table = ws.engine.stage(pa.Table.from_pandas(df))
    try:
        aggs, binary = aggregate(table, "variant", METRICS, by=["device"])
    finally:
        ws.engine.release(table)
    assert binary == {"converted"}
    assert len(aggs) == 6
    for (v, d), a in aggs.items():
        part = df[(df.variant == v) & (df.device == d)]
        ref = Aggregates.from_columns({c: part[c].to_numpy() for c in ("converted", "revenue", "pre_revenue",
                                                                        "sessions")})
        assert a.n == ref.n
        for c, m in a.means.items():
            assert m == pytest.approx(ref.means[c], rel=1e-12)
        for key, c in a.covs.items():
            assert c == pytest.approx(ref.cov(*key), rel=1e-9, abs=1e-9)


def test_merging_groups_equals_the_union():
    """Chan et al.'s parallel update: aggregates of two halves added equal those of the whole."""
    df = _units()
    cols = ["revenue", "pre_revenue", "sessions"]
    a = Aggregates.from_columns({c: df[c].to_numpy()[:1500] for c in cols})
    b = Aggregates.from_columns({c: df[c].to_numpy()[1500:] for c in cols})
    whole = Aggregates.from_columns({c: df[c].to_numpy() for c in cols})
    merged = a + b
    assert merged.n == whole.n
    for key, c in whole.covs.items():
        assert merged.covs[key] == pytest.approx(c, rel=1e-10)


def test_bad_columns_are_named():
    df = _units(200)
    df.loc[17, "revenue"] = np.nan
    import ibis

    with pytest.raises(MercatorError, match=r"column revenue is empty in 1 row"):
        aggregate(ibis.memtable(df), "variant", METRICS, name="units.csv")
    with pytest.raises(MercatorError, match=r"units.csv: column\(s\) device \(string\) are not numbers"):
        aggregate(ibis.memtable(df), "variant", [Metric("device")], name="units.csv")
    with pytest.raises(MercatorError, match=r"no column\(s\) spend"):
        aggregate(ibis.memtable(df), "variant", [Metric("spend")], name="units.csv")
