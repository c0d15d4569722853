"""The "hierarchical" start: mclust's model-based hierarchical agglomeration (``mixfit.agglomerate``).

``MCLUST_IRIS`` is mclust 6.0.0's partition of R's iris measurements (150 x 4) from
``hclass(hc(iris[, 1:4], modelName = "VVV", use = "SVD"), 2:6)`` on R 4.2.2, one digit a row.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score

import mixfit as mf
from mixfit import agglomerate as agg
from mixfit import init
from mixfit.sources import as_source

MCLUST_IRIS = {
    2: "111111111111111111111111111111111111111112111111112222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222",
    3: "111111111111111111111111111111111111111112111111113232322232222223222223223333222222223222222222232232322323233232232332323233222333222332233323332332",
    4: "122211112211221111111111121112211122112113211212114343433343333334333334334444333333334333333333343343433434344343343443434344333444333443344434443443",
    5: "122211112211221111111111121112211122112113211212114543455345353554533354554444533335554353553355543545455454544545545443454544555444555445544454445445",
    6: "122211112211221111111111121112211122112113211212114543455345353554533354554444533335554353553355543565655454566565565443654564555444555465566656665665",
}


def _quiet(model, X, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, **options)


@pytest.mark.parametrize("k", sorted(MCLUST_IRIS))
def test_the_agglomeration_is_mclusts_on_iris(k):
    X = load_iris().data
    weight = np.ones(len(X))
    labels = agg.agglomerate(agg.svd_scaled(X, weight), weight, k)
    mclust = np.array([int(c) for c in MCLUST_IRIS[k]])
    assert len(np.unique(labels)) == k
    assert adjusted_rand_score(mclust, labels) == 1.0  # the same partition, labels aside


def test_em_from_the_agglomeration_reaches_mclusts_maxima_on_iris():
    """mclust 6.0.0, ``Mclust(X, G, modelNames = "VVV", control = emControl(tol = 1e-10))``:
    -180.1858 (G = 3, printed -180.1858) and -165.5475 (G = 4) from this start."""
    X = load_iris().data
    for k, mclust in ((3, -180.1858), (4, -165.5475)):
        m = _quiet(mf.Mixture(mf.Gaussian("full"), k, init="hierarchical", tol=1e-10, max_iter=5000), X)
        assert m.log_likelihood_ == pytest.approx(mclust, abs=1e-3)  # R printed 4 decimals


def test_a_weighted_row_agglomerates_as_its_copies():
    """A weighted row starts as its copies once merged; copies need not all merge before any
    other pair (a pair of copies may first take in a close row), so the trees can differ inside
    a cluster, never across clusters this far apart."""
    rng = np.random.default_rng(3)
    distinct = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(8, 1, (30, 2)), rng.normal((0, 8), 1, (30, 2))])
    counts = rng.integers(1, 4, size=len(distinct)).astype(float)
    expanded = np.repeat(distinct, counts.astype(int), axis=0)
    ones = np.ones(len(expanded))
    weighted = agg.agglomerate(agg.svd_scaled(distinct, counts), counts, 3)
    copies = agg.agglomerate(agg.svd_scaled(expanded, ones), ones, 3)
    assert adjusted_rand_score(np.repeat(weighted, counts.astype(int)), copies) == 1.0
    fit_weighted = _quiet(mf.Mixture(mf.Gaussian("full"), 2, init="hierarchical"), distinct, sample_weight=counts)
    fit_copies = _quiet(mf.Mixture(mf.Gaussian("full"), 2, init="hierarchical"), expanded)
    assert fit_weighted.log_likelihood_ == pytest.approx(fit_copies.log_likelihood_, rel=1e-9)


def test_the_default_gaussian_fit_runs_the_agglomeration_start_to_convergence():
    X = load_iris().data
    m = _quiet(mf.Mixture(mf.Gaussian("full"), 4, random_state=0, tol=1e-10), X)
    start = m.restarts_.loc[0]
    assert start["status"] != "screened out" and np.isfinite(start["log_likelihood"])
    alone = _quiet(mf.Mixture(mf.Gaussian("full"), 4, init="hierarchical", tol=1e-10), X)
    assert len(alone.restarts_) == 1  # deterministic: n_init identical starts would be one
    assert start["log_likelihood"] == pytest.approx(alone.log_likelihood_, abs=1e-6)
    assert m.log_likelihood_ >= alone.log_likelihood_ - 1e-9  # never below mclust's start


def test_large_data_agglomerate_a_subset_and_start_from_it_alone(monkeypatch):
    monkeypatch.setattr(agg, "SUBSET_ROWS", 50)
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
    source = as_source(X, mf.Gaussian("full"))
    resp = init.hierarchical_resp(mf.Gaussian("full"), source, 2, np.random.RandomState(0))
    in_subset = resp.sum(axis=1) > 0
    assert in_subset.sum() == 50
    assert np.allclose(resp[in_subset].sum(axis=1), 1.0) and resp[in_subset].min() > 0


def test_the_start_refuses_what_it_cannot_agglomerate():
    with pytest.raises(mf.ModelError, match="init='hierarchical' needs a Gaussian family"):
        _quiet(mf.Mixture(mf.Bernoulli(), 2, init="hierarchical"), np.array([[0, 1], [1, 0], [1, 1], [0, 0]]))
    X = load_iris().data.copy()
    X[0, 1] = np.nan
    with pytest.raises(mf.DataError, match="needs complete rows"):
        _quiet(mf.Mixture(mf.Gaussian("diag", missing=True), 2, init="hierarchical"), X)
    m = _quiet(mf.Mixture(mf.Gaussian("diag", missing=True), 2, random_state=0), X)  # the default skips it
    assert (m.restarts_.index == 0).any() and np.isfinite(m.log_likelihood_)


def test_the_cli_takes_the_start(tmp_path):
    from typer.testing import CliRunner

    from mixfit.cli import app

    path = tmp_path / "iris.csv"
    pd.DataFrame(load_iris().data, columns=list("abcd")).to_csv(path, index=False)
    result = CliRunner().invoke(
        app, ["fit", str(path), "--family", "gaussian", "-k", "3", "--init", "hierarchical", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["log_likelihood"] == pytest.approx(-180.1858, abs=1e-3)


def _brute_force(z, weight, n_clusters):
    """Every pair's exact cost recomputed at every stage, straight from the criterion."""
    n, d = z.shape
    centred = z - np.average(z, axis=0, weights=weight)
    alpha = np.sum(weight[:, None] * centred**2) / (weight.sum() * d)

    def cost(members):
        w, x = weight[members], z[members]
        mean = np.average(x, axis=0, weights=w)
        scatter = ((x - mean) * w[:, None]).T @ (x - mean)
        size = w.sum()
        det = max(np.linalg.det(scatter / size), 0.0) if len(members) > d else 0.0
        return size * np.log(det + (np.trace(scatter) + alpha) / size)

    groups = [[i] for i in range(n)]
    while len(groups) > n_clusters:
        changes = {
            (a, b): cost(groups[a] + groups[b]) - cost(groups[a]) - cost(groups[b])
            for a in range(len(groups))
            for b in range(a + 1, len(groups))
        }
        a, b = min(changes, key=changes.get)
        groups[a] += groups.pop(b)
    labels = np.empty(n, dtype=int)
    for k, members in enumerate(groups):
        labels[members] = k
    return labels


@pytest.mark.parametrize("d", [1, 2, 3])
def test_the_agglomeration_follows_the_criterion_merge_by_merge(d):
    """Lower bounds made exact only where they could be cheapest give the tree that exact costs
    of every pair give (continuous data: no ties)."""
    rng = np.random.default_rng(d)
    z = np.concatenate([rng.normal(0, 1, (14, d)), rng.normal(2.5, 0.7, (12, d))])
    weight = rng.uniform(0.5, 3.0, len(z))
    for k in (2, 3, 5):
        assert adjusted_rand_score(_brute_force(z, weight, k), agg.agglomerate(z, weight, k)) == 1.0


def test_every_cut_of_the_whole_tree_is_the_agglomeration_stopped_there():
    X = load_iris().data
    weight = np.ones(len(X))
    z = agg.svd_scaled(X, weight)
    whole = agg.tree(z, weight)
    assert whole.shape == (len(X) - 1, 2) and agg.tree(z, weight) is whole  # kept for the next K
    for k in (2, 3, 6):
        np.testing.assert_array_equal(agg.cut(whole, len(X), k), agg.agglomerate(z, weight, k))


def test_a_start_with_nothing_to_agglomerate_fails_alone():
    """Rows of weight 0 do not count: one distinct row left cannot be split, and the
    hierarchical start says so as a ModelError (a failed start the search records and skips)."""
    X = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 3.0], [4.0, 1.0]])
    source = as_source(X, mf.Gaussian("full"), sample_weight=np.array([1.0, 1.0, 0.0, 0.0]), compress=False)
    with pytest.raises(mf.ModelError, match="needs at least 2 distinct rows of positive weight"):
        init.hierarchical_resp(mf.Gaussian("full"), source, 2, np.random.RandomState(0))
