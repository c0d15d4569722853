"""mclust's 14 covariance models (``families._parsimonious``): each M-step against a direct
numerical maximisation of its expected complete-data log-likelihood, the free-parameter counts
and maxima against mclust's, and each model through the checks of the families."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import scipy.optimize as opt
import scipy.stats as st
from scipy.linalg import expm
from sklearn.datasets import load_iris

import mixfit as mf
from mixfit.families._parsimonious import ALIASES, MODELS, conformity_problem

CODES = list(MODELS)
EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "published"


# ----------------------------------------------------------------------------- the models by hand
def _unpack(code: str, theta: np.ndarray, k: int, d: int) -> np.ndarray:
    """Covariances (K, D, D) of model ``code`` from its free parameters."""
    volume, axes, shape = _parts(code, theta, k, d)
    return np.einsum("k,kij,kj,klj->kil", volume, axes, shape, axes)


def _parts(code: str, theta: np.ndarray, k: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Volumes (K,), orientations (K, D, D) and shapes (K, D) of model ``code`` from its free
    parameters: log volumes, log shapes (d - 1 free, the last making the determinant 1) and
    skew-symmetric generators of rotations."""
    pos = 0

    def take(size: int) -> np.ndarray:
        nonlocal pos
        out = theta[pos : pos + size]
        pos += size
        return out

    volume = np.exp(np.broadcast_to(take(1 if code[0] == "E" else k), (k,)))
    if code[1] == "I":
        shape = np.ones((k, d))
    else:
        free = take((d - 1) * (1 if code[1] == "E" else k)).reshape(-1, d - 1)
        shape = np.exp(np.broadcast_to(np.hstack([free, -free.sum(axis=1, keepdims=True)]), (k, d)))
    lower = np.tril_indices(d, -1)
    axes = np.empty((k, d, d))
    generators = (
        take(len(lower[0]) * (1 if code[2] == "E" else k)).reshape(-1, len(lower[0])) if code[2] != "I" else None
    )
    for j in range(k):
        if generators is None:
            axes[j] = np.eye(d)
        else:
            skew = np.zeros((d, d))
            skew[lower] = generators[0 if code[2] == "E" else j]
            axes[j] = expm(skew - skew.T)
    return volume, axes, shape


def _n_theta(code: str, k: int, d: int) -> int:
    return MODELS[code].n_free(k, d)


def _objective(scatter, n, cov):
    """``sum_k n_k log|Sigma_k| + tr(W_k Sigma_k^-1)``: minus twice Q's covariance part."""
    return float(
        sum(
            n_k * np.linalg.slogdet(c)[1] + np.trace(w @ np.linalg.inv(c))
            for w, n_k, c in zip(scatter, n, cov, strict=True)
        )
    )


def _objective_at(code, scatter, n, theta):
    """``_objective`` at free parameters, from the parts (no inverse: finite wherever BFGS steps)."""
    volume, axes, shape = _parts(code, theta, len(n), scatter.shape[-1])
    rotated = np.einsum("kji,kjl,kli->ki", axes, scatter, axes)  # diag(D_k' W_k D_k)
    return float((n * scatter.shape[-1] * np.log(volume)).sum() + (rotated / shape / volume[:, None]).sum())


def _scatters(rng, k=3, d=3):
    n = rng.uniform(6, 20, size=k)
    scatter = np.stack(
        [st.wishart(df=d + 4, scale=np.diag(rng.uniform(0.5, 3, d))).rvs(random_state=rng) * n_k for n_k in n]
    )
    return scatter, n


def _m_step(code, scatter, n):
    """The family's M-step from per-component scatters (means at 0)."""
    d = scatter.shape[-1]
    family = mf.Gaussian(code)
    structure = family.structure
    if structure.diagonal:
        stats = mf.families.gaussian.GaussianStats(
            n, np.repeat(n[:, None], d, axis=1), np.zeros((len(n), d)), np.einsum("kii->ki", scatter)
        )
        var = np.broadcast_to(
            structure.variances(structure.m_step(stats, 0.0, np.ones((len(n), d))), (len(n), d)), (len(n), d)
        )
        return np.einsum("ki,ij->kij", var, np.eye(d))
    stats = mf.families.gaussian.GaussianStats(n, np.repeat(n[:, None], d, axis=1), np.zeros((len(n), d)), scatter)
    return structure.m_step(stats, 0.0, np.ones((len(n), d)))


@pytest.mark.parametrize("code", CODES)
def test_m_step_maximises_the_expected_log_likelihood(code, rng):
    """Direct numerical minimisation (BFGS over the model's free parameters, from the pooled
    start and five random ones) never beats the M-step; the M-step's covariances are of the model."""
    scatter, n = _scatters(rng)
    if code[2] == "I":  # a diagonal model sees only the diagonals of the scatters
        scatter = np.einsum("kii->ki", scatter)[:, :, None] * np.eye(3)
    cov = _m_step(code, scatter, n)
    assert conformity_problem(code, cov) is None
    ours = _objective(scatter, n, cov)
    size = _n_theta(code, 3, 3)
    best = np.inf
    for start in range(6):
        theta0 = np.zeros(size) if start == 0 else np.random.default_rng(start).normal(0, 0.5, size)
        theta0[0] += np.log(np.trace(scatter.sum(axis=0)) / (3 * n.sum())) if start == 0 else 0.0
        result = opt.minimize(lambda t: _objective_at(code, scatter, n, t), theta0, method="BFGS")
        best = min(best, result.fun)
    assert ours <= best + 1e-9 * abs(best)
    assert best <= ours + 1e-5 * abs(ours)  # the optimiser reaches it too: the same problem


@pytest.mark.parametrize("code", ["EII", "EEI", "VEI", "EVI"])
def test_diagonal_m_step_with_missing_entries(code, rng):
    """With missing entries each column has its own count: the variances minimise
    ``sum c log v + s / v`` under the model (checked against BFGS)."""
    k, d = 3, 3
    count = rng.uniform(4, 20, size=(k, d))
    scatter = count * rng.uniform(0.5, 3.0, size=(k, d))
    stats = mf.families.gaussian.GaussianStats(count.max(axis=1), count, np.zeros((k, d)), scatter, True)
    structure = mf.Gaussian(code).structure
    var = np.broadcast_to(structure.variances(structure.m_step(stats, 0.0, np.ones((k, d))), (k, d)), (k, d))

    def objective(v):
        return float((count * np.log(v) + scatter / v).sum())

    def diagonal(theta):
        return np.einsum("kii->ki", _unpack(code, theta, k, d))

    best = min(
        opt.minimize(
            lambda t: objective(diagonal(t)),
            np.random.default_rng(s).normal(0, 0.3, _n_theta(code, k, d)),
            method="BFGS",
        ).fun
        for s in range(3)
    )
    assert conformity_problem(code, np.einsum("ki,ij->kij", var, np.eye(d))) is None
    assert objective(var) <= best + 1e-9 * abs(best)


def test_parameter_counts_are_mclusts():
    """``nVarParams(model, d = 4, G = 3)`` of mclust 6.0.0, printed by
    ``for (m in c("EII", ..., "VVV")) cat(m, nVarParams(m, d = 4, G = 3), "\\n")``."""
    mclust = {"EII": 1, "VII": 3, "EEI": 4, "VEI": 6, "EVI": 10, "VVI": 12, "EEE": 10, "VEE": 12, "EVE": 16,
              "VVE": 18, "EEV": 22, "VEV": 24, "EVV": 28, "VVV": 30}  # fmt: skip
    assert {code: MODELS[code].n_free(3, 4) for code in CODES} == mclust
    assert mf.Gaussian("VEV").n_free_params(3, 4) == 12 + 24


#: mclust 6.0.0 on R's iris (columns 1-4), G = 3: ``f <- Mclust(iris[, 1:4], G = 3, modelNames = m);
#: cat(m, 3, f$loglik, f$df, f$bic)`` (mclust's BIC is minus ours).
IRIS_G3 = {
    "EII": (-401.8027, 15), "VII": (-384.3168, 17), "EEI": (-361.4295, 18), "VEI": (-339.4719, 20),
    "EVI": (-338.7895, 24), "VVI": (-307.1808, 26), "EEE": (-256.3547, 24), "VEE": (-237.5609, 26),
    "EVE": (-258.115, 30), "VVE": (-238.0428, 32), "EEV": (-232.1991, 36), "VEV": (-186.074, 38),
    "EVV": (-222.7946, 42), "VVV": (-180.1858, 44),
}  # fmt: skip


@pytest.mark.parametrize("code", CODES)
def test_iris_maxima_at_least_mclusts(code):
    """Each model's maximum on iris with G = 3 is at least mclust's (its EM stops at a relative
    change of 1e-5, so equal maxima differ in the fourth decimal), with mclust's number of parameters."""
    X = load_iris().data
    model = mf.Mixture(mf.Gaussian(code), 3, random_state=0).fit(X)
    loglik, df = IRIS_G3[code]
    assert model.n_parameters() == df
    assert model.score(X) * len(X) >= loglik - 1e-3


#: mclust 6.0.0 on R's faithful: ``f <- Mclust(faithful, G = g, modelNames = m);
#: cat(sprintf('("%s", %d, %.4f, %d)', m, g, f$loglik, f$df))``, a few of its 42 rows.
FAITHFUL = [
    ("EEI", 3, -1133.4782, 10), ("VEI", 3, -1132.7084, 12), ("EVI", 3, -1132.4676, 12),
    ("VEE", 3, -1124.6140, 13), ("EVE", 3, -1134.7216, 13), ("VVE", 3, -1126.0920, 15),
    ("EEV", 3, -1126.2232, 13), ("VEV", 3, -1122.7806, 15), ("EVV", 3, -1127.9480, 15),
    ("EEE", 3, -1126.3262, 11), ("EVE", 2, -1136.9103, 9), ("VEV", 2, -1134.6792, 10),
]  # fmt: skip


@pytest.mark.parametrize(("code", "k", "loglik", "df"), FAITHFUL)
def test_faithful_maxima_at_least_mclusts(code, k, loglik, df):
    X = pd.read_csv(EXAMPLES / "faithful.csv").to_numpy()
    model = mf.Mixture(mf.Gaussian(code), k, random_state=0).fit(X)
    assert model.n_parameters() == df
    assert model.score(X) * len(X) >= loglik - 1e-3


# ----------------------------------------------------------------------------- as a family
def _params_of(code, rng, k=3, d=2):
    theta = rng.normal(0, 0.6, _n_theta(code, k, d))
    cov = _unpack(code, theta, k, d)
    stored = mf.Gaussian(code).structure.shape(k, d)
    if len(stored) == 1:
        cov = cov[:, 0, 0]
    elif len(stored) == 2:
        cov = np.einsum("kii->ki", cov)
    return {"mean": rng.normal(0, 3, size=(k, d)), "covariance": cov}


@pytest.mark.parametrize("code", CODES)
def test_log_density_and_sampling_match_the_covariances(code, rng):
    """log_prob equals scipy's normal density; 20,000 rows drawn from a component have its
    covariance (to a few standard errors of a sample covariance)."""
    family = mf.Gaussian(code)
    params = family.check_params(_params_of(code, rng), 3, 2)
    X = rng.normal(size=(40, 2))
    design = family.design(family.validate(X, ["a", "b"]))
    cov = np.asarray(params["covariance"])
    matrices = (
        cov
        if cov.ndim == 3
        else np.einsum("ki,ij->kij", cov if cov.ndim == 2 else cov[:, None] * np.ones(2), np.eye(2))
    )
    oracle = np.stack(
        [st.multivariate_normal(m, c).logpdf(X) for m, c in zip(params["mean"], matrices, strict=True)], axis=1
    )
    np.testing.assert_allclose(family.log_prob(design, params), oracle, rtol=1e-10, atol=1e-10)
    drawn = family.sample(params, np.zeros(20000, dtype=int), rng)
    np.testing.assert_allclose(np.cov(drawn.T), matrices[0], atol=0.06 * np.abs(matrices[0]).max() + 0.02)


@pytest.mark.parametrize("code", ["VEV", "EVE", "EEI", "EII"])
def test_model_file_round_trip(code, tmp_path):
    X = load_iris().data
    model = mf.Mixture(mf.Gaussian(code), 2, random_state=0).fit(X)
    path = tmp_path / "m.json"
    model.save(path)
    loaded = mf.load(path)
    assert loaded.family.covariance == code
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-12, atol=1e-12)


def test_a_model_file_whose_covariance_is_not_of_its_model_is_refused(tmp_path):
    X = load_iris().data
    path = tmp_path / "m.json"
    mf.Mixture(mf.Gaussian("EEV"), 2, random_state=0).fit(X).save(path)
    spec = json.loads(path.read_text())
    cov = np.asarray(spec["params"]["covariance"])
    cov[1] = cov[1] * 2.0  # EEV shares the volume: a doubled covariance breaks it
    spec["params"]["covariance"] = cov.tolist()
    path.write_text(json.dumps(spec))
    with pytest.raises(mf.ModelError, match="not of covariance model 'EEV'.*volumes"):
        mf.load(path)


def test_aliases_fit_the_same_model():
    X = load_iris().data
    for alias, code in ALIASES.items():
        if alias in ("E", "V"):
            continue
        a = mf.Mixture(mf.Gaussian(alias), 2, random_state=0).fit(X)
        b = mf.Mixture(mf.Gaussian(code), 2, random_state=0).fit(X)
        assert a.score(X) == pytest.approx(b.score(X), rel=1e-10)
        assert a.n_parameters() == b.n_parameters()


def test_univariate_models_e_and_v():
    x = np.r_[np.random.default_rng(0).normal(0, 1, 100), np.random.default_rng(1).normal(6, 3, 100)]
    e = mf.Mixture(mf.Gaussian("E"), 2, random_state=0).fit(x)
    v = mf.Mixture(mf.Gaussian("V"), 2, random_state=0).fit(x)
    assert np.ptp(e.params_["covariance"]) == 0 and np.ptp(v.params_["covariance"]) > 1
    assert (e.n_parameters(), v.n_parameters()) == (4, 5)
    with pytest.raises(mf.DataError, match="covariance='E' is mclust's name of a model of one column"):
        mf.Mixture(mf.Gaussian("E"), 2).fit(load_iris().data)


def test_standard_errors_of_shared_variances_and_refused_for_constrained_models():
    X = load_iris().data
    eei = mf.Mixture(mf.Gaussian("EEI"), 2, random_state=0).fit(X)
    table = eei.standard_errors(X).table
    se = table.loc[[f"covariance[{k},0]" for k in range(2)], "se"].to_numpy()
    assert np.isfinite(se).all() and se[0] == pytest.approx(se[1])  # one variance, reported per component
    vev = mf.Mixture(mf.Gaussian("VEV"), 2, random_state=0).fit(X)
    with pytest.raises(mf.ModelError, match="standard errors are not available for a covariance model"):
        vev.standard_errors(X)


def test_a_start_off_the_model_is_refused():
    with pytest.raises(mf.ModelError, match="not of covariance model 'VEI': its components' shapes"):
        mf.Mixture(
            mf.Gaussian("VEI"),
            2,
            params_init={"mean": np.zeros((2, 2)), "covariance": np.array([[1.0, 2.0], [2.0, 1.0]])},
        ).fit(np.random.default_rng(0).normal(size=(20, 2)))


# ----------------------------------------------------------------------------- selection over models
#: mclust 6.0.0: ``b <- mclustBIC(faithful, G = 1:4); summary(b)`` chooses EEE,3 (BIC -2314.316),
#: then VVE,2 (-2320.292) and EEE,4; ``Mclust(iris[, 1:4])`` chooses VEV,2 (BIC -561.7285).
MCLUST_FAITHFUL_BEST = ("EEE", 3, 2314.316)
MCLUST_IRIS_BEST = ("VEV", 2, 561.7285)


def test_select_searches_every_covariance_model_when_none_is_given():
    """``Gaussian()`` without a covariance: every model x K, mclust's choice on faithful (its BIC
    no worse), a row per (model, K) keyed as mclust names them, a wide table of K by model."""
    X = pd.read_csv(EXAMPLES / "faithful.csv").to_numpy()
    result = mf.select(X, mf.Gaussian(), range(1, 5), random_state=0)
    assert len(result.table) == 14 * 4 and list(result.table.index[:2]) == ["EII,1", "EII,2"]
    code, k, bic = MCLUST_FAITHFUL_BEST
    assert (result.table.loc[result.chosen, "covariance"], result.best_n_components) == (code, k)
    assert result.table.loc[result.chosen, "bic"] <= bic + 1e-3
    assert result.best_model.family.covariance == code
    wide = result.wide()
    assert wide.shape == (4, 14) and list(wide.columns) == CODES
    assert wide.loc[3, "EEE"] == result.table.loc["EEE,3", "bic"]
    assert result.headline().startswith("BIC chooses EEE, K = 3 (runners-up: ")


def test_select_over_a_list_of_models_and_one_column():
    X = load_iris().data
    with pytest.warns(mf.RangeWarning, match="lowest at K = 2, the smallest K searched"):
        result = mf.select(X, mf.Gaussian(["VEV", "VVV"]), [2, 3], random_state=0)
    assert list(result.table.index) == ["VEV,2", "VEV,3", "VVV,2", "VVV,3"]
    code, k, bic = MCLUST_IRIS_BEST
    assert result.chosen == f"{code},{k}" and result.table.loc[result.chosen, "bic"] <= bic + 1e-3
    x = np.r_[np.random.default_rng(0).normal(0, 1, 80), np.random.default_rng(1).normal(5, 2, 80)]
    univariate = mf.select(x, mf.Gaussian(), [1, 2, 3], random_state=0)
    assert list(univariate.table["covariance"]) == ["E"] * 3 + ["V"] * 3
    with pytest.raises(mf.ModelError, match="lists several covariance models: mixfit.select chooses"):
        mf.Mixture(mf.Gaussian(["VEV", "VVV"]), 2).fit(X)
    with pytest.raises(mf.ModelError, match="covariance lists a model twice"):
        mf.Gaussian(["VEV", "VEV"])


def test_a_given_covariance_keeps_the_search_to_it():
    """One model: rows and models keyed by K as for any family, the covariance still a column."""
    X = load_iris().data
    result = mf.select(X, mf.Gaussian("VVV"), [1, 2, 3], n_init=2, random_state=0)
    assert list(result.table.index) == [1, 2, 3] and result.labels == ["covariance"]
    assert set(result.models) == {1, 2, 3} and (result.table["covariance"] == "VVV").all()
    assert result.chosen == 2
    assert re.fullmatch(
        r"BIC chooses VVV, K = 2 \(runners-up: VVV,3 \+\d+\.\d\d; VVV,1 \+\d+\.\d\d\)", result.headline()
    )


def test_eve_and_vve_steps_never_lower_the_log_likelihood():
    """From the pass's orientation the M-step is a generalised EM step: with ``debug`` on, any
    fall of the log-likelihood would raise; the fit still reaches the maximum of a full M-step."""
    X = load_iris().data
    from mixfit.config import config_context

    with config_context(debug=True):
        for code in ("EVE", "VVE"):
            model = mf.Mixture(mf.Gaussian(code), 3, random_state=0, tol=1e-10).fit(X)
            assert model.score(X) * len(X) >= IRIS_G3[code][0] - 1e-3


def test_cells_far_behind_keep_one_start_and_contenders_get_all():
    X = pd.read_csv(EXAMPLES / "faithful.csv").to_numpy()
    result = mf.select(X, mf.Gaussian(["EII", "EEE"]), [2, 3], n_init=6, random_state=0)
    far = result.table.loc["EII,2"]
    assert far["status"].startswith("ok; one start (bic more than 10 behind") and far["replication"] == "1/1"
    chosen = result.table.loc[result.chosen]
    assert chosen["status"] == "ok" and int(chosen["replication"].split("/")[1]) > 1


@pytest.mark.parametrize("code", ["VEV", "EVE", "VEI"])
def test_streamed_and_missing_fits(code, tmp_path):
    """A file read in chunks of 16 rows gives the fit in memory (the scatter statistics add);
    with entries missing, a model fits by its full-information likelihood and its maximum is
    not below that of its start (the complete rows' fit)."""
    X = pd.read_csv(EXAMPLES / "faithful.csv")
    settings = {"random_state": 0, "n_init": 2}
    memory = mf.Mixture(mf.Gaussian(code), 2, **settings).fit(X)
    path = tmp_path / "faithful.csv"
    X.to_csv(path, index=False)
    streamed = mf.Mixture(mf.Gaussian(code), 2, **settings).fit(mf.FileTable(str(path), chunk_rows=16))
    assert streamed.log_likelihood_ == pytest.approx(memory.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(streamed.params_["covariance"], memory.params_["covariance"], rtol=1e-6)
    holes = X.to_numpy(dtype=float)
    holes[np.random.default_rng(0).random(len(holes)) < 0.1, 1] = np.nan  # a tenth of one column
    gappy = mf.Mixture(mf.Gaussian(code), 2, **settings).fit(holes)
    cov = np.asarray(gappy.params_["covariance"])
    cov = cov if cov.ndim == 3 else np.einsum("ki,ij->kij", cov, np.eye(2))
    assert conformity_problem(code, cov) is None
    seen = ~np.isnan(holes[:, 1])
    density = sum(
        w
        * np.where(
            seen,
            st.multivariate_normal(m, c).pdf(np.nan_to_num(holes)),
            st.norm(m[0], np.sqrt(c[0, 0])).pdf(holes[:, 0]),
        )
        for w, m, c in zip(gappy.weights_, gappy.params_["mean"], cov, strict=True)
    )  # each row's marginal density over its observed entries
    assert gappy.score(holes) * len(holes) == pytest.approx(np.log(density).sum(), rel=1e-10)
