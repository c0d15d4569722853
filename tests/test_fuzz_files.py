"""Hostile files, fuzzed: random mutations of a valid JSON model file and of a real checkpoint,
random bytes as a model file, a checkpoint or a CSV data file, and valid CSV files with a few
bytes replaced, deleted or inserted. Every reader must answer with a model (whose predictions are
finite) or one typed error (``MixfitError``; exit status 2 on the command line): never another
exception, a traceback, a hang or NaN output."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixfit as mf
from mixfit.cli import main
from mixfit.errors import MixfitError
from tests.conftest import interrupted_fit

#: Generated cases per test: 120 in CI; MIXFIT_FUZZ_CASES for a longer local run.
N_CASES = int(os.environ.get("MIXFIT_FUZZ_CASES", "120"))
FUZZ = settings(max_examples=N_CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
X = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0]])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def model_doc(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "m.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf.Mixture(mf.Bernoulli(), 2, random_state=0, n_init=2).fit(X).save(path)
    return json.loads(path.read_text())


def _paths(doc, prefix=()):
    """Every (path of keys/indices) into a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:3]):
            yield from _paths(value, (*prefix, i))


def _mutated(doc, path, value, delete):
    doc = json.loads(json.dumps(doc))
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _load_and_use(path):
    """Load a model file and predict with it: a model with finite output, or a MixfitError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mf.load(path)
            proba = model.predict_proba(X)
    except MixfitError:
        return
    assert np.isfinite(proba).all()


@FUZZ
@given(data=st.data(), value=json_values, delete=st.booleans())
def test_mutated_model_files_load_or_are_refused(model_doc, tmp_path, data, value, delete):
    paths = list(_paths(model_doc))
    path = data.draw(st.sampled_from(paths))
    (tmp_path / "m.json").write_text(json.dumps(_mutated(model_doc, path, value, delete)))
    _load_and_use(tmp_path / "m.json")


@FUZZ
@given(content=st.binary(max_size=300))
def test_random_bytes_as_a_model_file_are_refused(tmp_path, content):
    (tmp_path / "m.json").write_bytes(content)
    _load_and_use(tmp_path / "m.json")


@FUZZ
@given(content=st.binary(max_size=200) | st.text(alphabet='01,\n\r\t ;"x-.e', max_size=120))
def test_random_csv_files_fit_or_exit_2_in_one_line(tmp_path, capsys, content):
    path = tmp_path / "d.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SystemExit) as done, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(["fit", str(path), "-f", "bernoulli", "-k", "1", "--n-init", "1", "--json"])
    err = capsys.readouterr().err
    assert done.value.code in (0, 2), err
    assert "Traceback" not in err
    if done.value.code == 0:
        assert "NaN" not in err


@pytest.fixture(scope="module")
def checkpoint_doc(tmp_path_factory):
    """A real checkpoint of an interrupted fit of X (iteration 2 of restart 0)."""
    path, _ = interrupted_fit(X, tmp_path_factory.mktemp("fuzz") / "fit.ckpt", stop_at=2)
    return json.loads(path.read_text())


@FUZZ
@given(data=st.data(), value=json_values, delete=st.booleans(), raw=st.none() | st.binary(max_size=200))
def test_mutated_checkpoints_resume_or_are_refused(checkpoint_doc, tmp_path, data, value, delete, raw):
    """A mutated checkpoint (or random bytes in its place) resumes to a finite model or is refused
    with one ``MixfitError``."""
    path = tmp_path / "fit.ckpt"
    if raw is not None:
        path.write_bytes(raw)
    else:
        where = data.draw(st.sampled_from(list(_paths(checkpoint_doc))))
        path.write_text(json.dumps(_mutated(checkpoint_doc, where, value, delete)))
    model = mf.Mixture(mf.Bernoulli(), 2, n_init=1, random_state=0, checkpoint=path, checkpoint_every=1000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, resume=True)
    except MixfitError:
        return
    assert np.isfinite(model.params_["p"]).all() and np.isfinite(model.weights_).all()
    assert np.isfinite(model.log_likelihood_)


VALID_CSV = "q1,q2,q3\n" + "".join(f"{a},{b},{c}\n" for a, b, c in X)


@settings(FUZZ, max_examples=max(N_CASES // 2, 1))  # two fits per case
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID_CSV)), st.integers(0, 3), st.binary(min_size=0, max_size=3)),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_csv_files_fit_or_exit_2_in_one_line(tmp_path, capsys, edits):
    """A valid CSV with a few bytes replaced, deleted or inserted: a fit, or one line and exit 2,
    in memory and streamed."""
    content = VALID_CSV.encode()
    for at, cut, insert in edits:
        content = content[:at] + insert + content[at + cut :]
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    for streamed in ([], ["--chunk-size", "2"]):
        with pytest.raises(SystemExit) as done, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main(["fit", str(path), "-f", "bernoulli", "-k", "2", "--n-init", "2", "--json", *streamed])
        err = capsys.readouterr().err
        assert done.value.code in (0, 2), err
        assert "Traceback" not in err and (done.value.code == 0 or len(err.strip().splitlines()) == 1), err


# --- round three: covariate tables, model files with covariates, family specs ------------------

Z_ROWS = np.array([[0.5, 1.0], [-1.0, 2.0], [1.5, -0.5], [-0.2, 0.3], [2.0, 1.0], [-1.5, -1.0]])
hostile_numbers = st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 1e-320, 0.0, 1e200, -1e154])


def _covariates(values=Z_ROWS, names=("age", "income")):
    import pandas as pd

    return pd.DataFrame(np.asarray(values), columns=list(names))


@pytest.fixture(scope="module")
def covariate_model_doc(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "cm.json"
    rows = np.vstack([X] * 5)
    z = _covariates(np.vstack([Z_ROWS] * 5) + np.random.default_rng(0).normal(0, 0.1, (30, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf.Mixture(mf.Bernoulli(), 2, random_state=0, n_init=2).fit(rows, covariates=z).save(path)
    return json.loads(path.read_text())


def _predict_with_covariates(path, z):
    """Load a covariate model and predict: finite responsibilities, or one MixfitError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proba = mf.load(path).predict_proba(X, covariates=z)
    except MixfitError:
        return
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)


@FUZZ
@given(data=st.data(), value=json_values, delete=st.booleans())
def test_mutated_covariate_model_files_predict_or_are_refused(covariate_model_doc, tmp_path, data, value, delete):
    where = data.draw(st.sampled_from(list(_paths(covariate_model_doc))))
    (tmp_path / "cm.json").write_text(json.dumps(_mutated(covariate_model_doc, where, value, delete)))
    _predict_with_covariates(tmp_path / "cm.json", _covariates())


@FUZZ
@given(
    cells=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1), hostile_numbers), max_size=4),
    names=st.sampled_from([("age", "income"), ("income", "age"), ("age", "age"), ("age", "Income"), ("a", "b")]),
    refit=st.booleans(),
)
def test_mutated_covariate_tables_predict_fit_or_are_refused(covariate_model_doc, tmp_path, cells, names, refit):
    """Covariate tables with hostile values or names: a finite answer or one MixfitError, both
    when predicting with a fitted model and when fitting."""
    values = Z_ROWS.copy()
    for row, column, number in cells:
        values[row, column] = number
    z = _covariates(values, names)
    path = tmp_path / "cm.json"
    path.write_text(json.dumps(covariate_model_doc))
    _predict_with_covariates(path, z)
    if refit:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = mf.Mixture(mf.Bernoulli(), 2, random_state=0, n_init=2).fit(X, covariates=z)
        except MixfitError:
            return
        assert np.isfinite(model.covariate_coef_).all() and np.isfinite(model.log_likelihood_)


family_specs = st.lists(
    st.sampled_from(["q1", "q2", "q3", ",", "=", ";", " ", "bernoulli", "categorical", "poisson", "gaussian", "x", ""]),
    min_size=1,
    max_size=10,
).map("".join)


@FUZZ
@given(spec=family_specs)
def test_random_family_specs_fit_or_exit_2_in_one_line(tmp_path, capsys, spec):
    path = tmp_path / "d.csv"
    path.write_text(VALID_CSV)
    with pytest.raises(SystemExit) as done, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(["fit", str(path), "-f", spec, "-k", "2", "--n-init", "2", "--json"])
    err = capsys.readouterr().err
    assert done.value.code in (0, 2), err
    assert "Traceback" not in err and (done.value.code == 0 or len(err.strip().splitlines()) == 1), err
