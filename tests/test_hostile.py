"""Hostile input, round three: files a fit must not destroy, markup in names, inputs matched by
name, overflow, damaged caches, and work bounded by the data's size. Each case is listed in
docs/errors.md."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest

import mixfit as mf
from mixfit.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.fixture
def binary(rng):
    return (rng.random((200, 5)) < np.where(rng.random((200, 1)) < 0.5, 0.2, 0.8)).astype(float)


# --- checkpoints replace only checkpoints -------------------------------------------------------


def test_a_checkpoint_path_naming_a_users_file_is_refused_and_the_file_kept(binary, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(mf.ModelError, match="exists and is not a mixfit checkpoint; choose another path"):
        mf.Mixture(mf.Bernoulli(), 2, checkpoint=notes, random_state=0).fit(binary)
    assert notes.read_text() == "my notes"


def test_the_cli_refuses_a_checkpoint_over_a_users_file(capsys, binary, tmp_path):
    data, model = tmp_path / "d.csv", tmp_path / "yesterday.json"
    np.savetxt(data, binary, delimiter=",", header="a,b,c,d,e", comments="", fmt="%d")
    model.write_text('{"format": "mixfit-model"}')
    code, _, err = run(capsys, "fit", data, "-f", "bernoulli", "-k", "2", "--checkpoint", model)
    assert code == 2 and "is not a mixfit checkpoint" in err and "Traceback" not in err
    assert model.read_text() == '{"format": "mixfit-model"}'


def test_a_checkpoint_of_another_fit_is_removed_only_when_this_fit_replaced_it(binary, tmp_path):
    path = tmp_path / "fit.ckpt"
    old = json.dumps({"format": "mixfit-checkpoint", "format_version": 1, "fingerprint": "another fit"})
    path.write_text(old)
    # converges long before iteration 1000: nothing written, the other fit's checkpoint stays
    mf.Mixture(mf.Bernoulli(), 2, checkpoint=path, checkpoint_every=1000, random_state=0).fit(binary)
    assert path.read_text() == old
    # a checkpoint every iteration replaces it; the fit's own checkpoint is removed at the end
    mf.Mixture(mf.Bernoulli(), 2, checkpoint=path, checkpoint_every=1, random_state=0).fit(binary)
    assert not path.exists()


# --- the report: no name from the data adds markup ----------------------------------------------

MARKUP = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def _elements(page: str) -> set[tuple[str, frozenset[str]]]:
    """Every (tag, attribute names) in ``page``, parsed as a browser's tokenizer would."""
    from html.parser import HTMLParser

    found: set[tuple[str, frozenset[str]]] = set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.add((tag, frozenset(name for name, _ in attrs)))

    Collect().feed(page)
    return found


def _mixed_report(names: list[str], levels: list[str], command: str) -> str:
    import pandas as pd

    from mixfit.report import render

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            names[0]: rng.integers(0, 2, 120),
            names[1]: rng.integers(0, 2, 120),
            names[2]: rng.choice(levels, 120),
        }
    )
    family = mf.Independent({(names[0], names[1]): mf.Bernoulli(), names[2]: mf.Categorical()})
    with pytest.warns(mf.ReplicationWarning):  # a warning's text (it names no column) is shown too
        model = mf.Mixture(family, 4, n_init=2, random_state=1, max_iter=3).fit(frame)
    return render(model, frame, command=command)


@pytest.mark.filterwarnings("ignore::mixfit.ConvergenceWarning", "ignore::mixfit.IdentifiabilityWarning")
def test_a_report_whose_every_name_is_markup_has_only_the_templates_elements():
    plain = _mixed_report(["a", "b", "c"], ["x", "y"], "mixfit fit data.csv")
    hostile = _mixed_report(
        [f"a{MARKUP}", f"b{MARKUP}", f"c{MARKUP}"], [f"x{MARKUP}", f"y{MARKUP}"], f"mixfit fit {MARKUP}.csv"
    )
    assert _elements(hostile) == _elements(plain)  # no element or attribute that was not there
    assert "<script" not in hostile and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile


# --- inputs matched by name, not by position ----------------------------------------------------


@pytest.fixture
def with_covariates(rng):
    """Binary items whose class depends on ``age``; ``inc`` is noise."""
    import pandas as pd

    n = 300
    age = rng.normal(size=n)
    cls = rng.random(n) < 1 / (1 + np.exp(-2 * age))
    X = (rng.random((n, 4)) < np.where(cls[:, None], 0.85, 0.15)).astype(int)
    frame = pd.DataFrame(X, columns=["q1", "q2", "q3", "q4"]).assign(age=age.round(3), inc=rng.normal(size=n).round(3))
    return frame


def test_covariates_are_matched_by_name_as_x_is(with_covariates):
    X, Z = with_covariates[["q1", "q2", "q3", "q4"]], with_covariates[["age", "inc"]]
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=Z)
    with pytest.raises(
        mf.DataError, match=r"covariate columns must be \['age', 'inc'\], as at fit .*got \['inc', 'age'\]"
    ):
        m.predict(X, covariates=Z[["inc", "age"]])
    with pytest.raises(mf.DataError, match=r"got \['AGE', 'inc'\]"):
        m.predict_proba(X, covariates=Z.rename(columns={"age": "AGE"}))
    # the same columns without names are taken by position, as X's are
    np.testing.assert_array_equal(m.predict(X, covariates=Z.to_numpy()), m.predict(X, covariates=Z))


def test_repeated_covariate_columns_are_refused(with_covariates, capsys, tmp_path):
    import pandas as pd

    X = with_covariates[["q1", "q2", "q3", "q4"]]
    with pytest.raises(mf.DataError, match=r"unique; got duplicates \['age'\]"):
        mf.Mixture(mf.Bernoulli(), 2).fit(X, covariates=pd.concat([with_covariates.age] * 2, axis=1))
    data = tmp_path / "d.csv"
    with_covariates.to_csv(data, index=False)
    code, _, err = run(capsys, "fit", data, "-f", "bernoulli", "--covariates", "age,age")
    assert code == 2 and "--covariates names ['age'] more than once" in err and "Traceback" not in err


def test_the_cli_predicts_and_samples_with_a_covariate_model(with_covariates, capsys, tmp_path):
    import pandas as pd

    data, model_file = tmp_path / "d.csv", tmp_path / "m.json"
    with_covariates.to_csv(data, index=False)
    code, _, _ = run(
        capsys, "fit", data, "-f", "bernoulli", "--covariates", "age,inc", "--seed", "0", "--out", model_file
    )
    assert code == 0
    model = mf.load(model_file)
    expected = model.predict_proba(
        with_covariates[["q1", "q2", "q3", "q4"]], covariates=with_covariates[["age", "inc"]]
    )
    # the covariates are read from the data file by the names the model stores, in any column order
    shuffled = tmp_path / "shuffled.csv"
    with_covariates[["inc", "q4", "age", "q3", "q2", "q1"]].to_csv(shuffled, index=False)
    code, out, _ = run(capsys, "predict", model_file, shuffled, "--proba")
    assert code == 0
    np.testing.assert_allclose(pd.read_csv(io.StringIO(out))[["c_1", "c_2"]], expected, atol=1e-12)
    with_covariates.drop(columns="inc").to_csv(data.with_name("x.csv"), index=False)
    code, _, err = run(capsys, "predict", model_file, data.with_name("x.csv"))
    assert code == 2 and "column 'inc' not in" in err and "(the model's covariates)" in err
    # sampling draws one row per row of the covariates' file
    code, out, _ = run(capsys, "sample", model_file, "--data", data, "--seed", "1")
    drawn = pd.read_csv(io.StringIO(out))
    assert (
        code == 0
        and len(drawn) == len(with_covariates)
        and list(drawn.columns) == ["q1", "q2", "q3", "q4", "component"]
    )
    code, _, err = run(capsys, "sample", model_file)
    assert code == 2 and "pass --data FILE holding them" in err


def test_a_regression_predicts_from_the_columns_it_reads(rng, capsys, tmp_path):
    import pandas as pd

    x = rng.uniform(0, 10, 400)
    y = np.where(np.arange(400) < 200, 1 + 2 * x, 20 - x) + rng.normal(0, 0.5, 400)
    frame = pd.DataFrame({"y": y, "unused": rng.normal(size=400), "x": x})
    m = mf.Mixture(mf.Regression("gaussian", response="y", predictors=["x"]), 2, random_state=0).fit(frame)
    np.testing.assert_array_equal(m.predict(frame[["x", "y"]]), m.predict(frame))
    with pytest.raises(mf.DataError, match=r"column 'x' not in the data; columns are \['y'\]"):
        m.predict(frame[["y"]])
    data, model_file, new = tmp_path / "d.csv", tmp_path / "m.json", tmp_path / "new.csv"
    frame.to_csv(data, index=False)
    frame[["x", "y"]].to_csv(new, index=False)
    code, _, _ = run(
        capsys, "fit", data, "-f", "regression", "--kind", "gaussian", "--response", "y", "--predictors", "x",
        "--seed", "0", "--out", model_file,
    )  # fmt: skip
    assert code == 0
    code, out, err = run(capsys, "predict", model_file, new)
    assert code == 0, err
    assert out.count("\n") == 401


def test_known_labels_with_order_is_refused(binary):
    labels = np.full(len(binary), -1)
    labels[:10] = 1
    with pytest.raises(mf.ModelError, match="order= renumbers the components .* known_labels"):
        mf.Mixture(mf.Bernoulli(), 2, order="weight").fit(binary, known_labels=labels)


def test_drop_that_leaves_nothing_or_sits_beside_columns_is_refused(capsys, binary, tmp_path):
    data = tmp_path / "d.csv"
    np.savetxt(data, binary, delimiter=",", header="a,b,c,d,e", comments="", fmt="%d")
    code, _, err = run(capsys, "fit", data, "-f", "bernoulli", "--drop", "a,b,c,d,e")
    assert code == 2 and "leaves no column to model" in err
    code, _, err = run(capsys, "fit", data, "-f", "bernoulli", "--columns", "a,b,c", "--drop", "c")
    assert code == 2 and "--drop cannot be combined with --columns" in err
    code, _, err = run(capsys, "fit", data, "-f", "a,b=bernoulli; c=bernoulli", "--drop", "d")
    assert code == 2 and "--drop cannot be combined with a mixed --family" in err


def test_a_known_label_that_is_a_digit_only_to_unicode_is_refused(capsys, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b,lab\n1,0,1\n0,1,\u00b2\n1,1,\n0,0,1\n")
    code, _, err = run(capsys, "fit", data, "-f", "bernoulli", "--known-labels", "lab")
    assert code == 2 and "got '\u00b2' in row 1" in err and "Traceback" not in err


@pytest.mark.parametrize("ks", [[1, 2.5], [1.0, 2.0], np.array([1.5, 2.5])])
def test_select_refuses_fractional_numbers_of_components(binary, ks):
    with pytest.raises(mf.ModelError, match="n_components must be ints >= 1"):
        mf.select(binary, mf.Bernoulli(), ks)


@pytest.mark.parametrize(
    "names, message",
    [
        (["age", "inc", "(intercept)"], "must be '\\(intercept\\)' then distinct column names"),
        (["(intercept)", "age", "age"], "must be '\\(intercept\\)' then distinct column names"),
        (["(intercept)", "q1", "inc"], "\\['q1'\\] are also modelled columns"),
    ],
)
def test_a_model_file_with_edited_covariate_names_is_refused(with_covariates, tmp_path, names, message):
    X, Z = with_covariates[["q1", "q2", "q3", "q4"]], with_covariates[["age", "inc"]]
    path = tmp_path / "m.json"
    mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=Z).save(path)
    doc = json.loads(path.read_text())
    doc["covariate_names"] = names
    path.write_text(json.dumps(doc))
    with pytest.raises(mf.ModelError, match=message):
        mf.load(path)


# --- a damaged compiled-kernel cache -------------------------------------------------------------


def test_a_kernel_that_fails_to_load_means_numpy_with_one_warning(binary, monkeypatch):
    pytest.importorskip("numba")
    from mixfit import kernels

    reference = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(binary)
    monkeypatch.setattr(kernels, "_failure", [])

    def emptied_index(*args):
        raise EOFError("Ran out of input")  # what numba raises when a cache index was emptied

    monkeypatch.setattr(kernels.compiled(), "linear_pass", emptied_index)
    with pytest.warns(UserWarning, match=r"could not be loaded from their cache \(EOFError: Ran out of input\)"):
        m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(binary)
    assert kernels.active() == "numpy"
    np.testing.assert_allclose(m.log_likelihood_, reference.log_likelihood_, rtol=1e-12)


@pytest.mark.slow
def test_an_emptied_numba_cache_index_does_not_stop_a_fit(tmp_path):
    pytest.importorskip("numba")
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np, mixfit as mf\n"
        "X = (np.random.default_rng(0).random((100, 4)) < 0.5).astype(int)\n"
        "print(mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X).log_likelihood_)\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    indexes = list((tmp_path / "cache").rglob("*.nbi"))
    assert indexes
    for index in indexes:
        index.write_bytes(b"")  # as a full disk leaves it
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "could not be loaded from their cache (EOFError" in second.stderr and str(tmp_path) in second.stderr
    assert abs(float(second.stdout) - float(first.stdout)) < 1e-9 * abs(float(first.stdout))


# --- one line where a traceback was --------------------------------------------------------------


def test_bootstrap_with_every_weight_zero_is_refused_once(binary):
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(binary)
    with pytest.raises(mf.DataError, match="sample_weight must not be all zero"):
        m.bootstrap(binary, n_boot=3, sample_weight=np.zeros(len(binary)))


def test_saving_into_a_missing_folder_names_the_folder_not_a_temporary_file(binary, tmp_path):
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(binary)
    target = tmp_path / "missing" / "m.json"
    with pytest.raises(
        FileNotFoundError, match=r"cannot write .*m.json': the folder .*missing' does not exist"
    ) as info:
        m.save(target)
    assert ".tmp" not in str(info.value)


@pytest.mark.parametrize("chunk", [[], ["--chunk-size", "1"]])
def test_a_csv_field_beyond_the_csv_limit_is_one_line(capsys, tmp_path, chunk):
    data = tmp_path / "big.csv"
    data.write_text("a,b\n1," + "x" * 200_000 + "\n0,1\n")
    code, _, err = run(capsys, "fit", data, "-f", "bernoulli", *chunk)
    assert code == 2 and "line 2 cannot be read as CSV: field larger than field limit" in err
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("levels", "kind"), [([[{"k": 1}, "y"], ["u", "v"]], "dict"), ([[["x"], "y"], ["u", "v"]], "list")]
)
def test_nested_levels_in_a_model_file_are_refused(tmp_path, levels, kind):
    import pandas as pd

    frame = pd.DataFrame({"a": list("xyxyxyyx") * 5, "b": list("uvvuuvuv") * 5, "c": list("uuvvuvuv") * 5})
    path = tmp_path / "m.json"
    mf.Mixture(mf.Categorical(), 2, random_state=0).fit(frame).save(path)
    doc = json.loads(path.read_text())
    doc["family"]["levels"] = [*levels, ["u", "v"]]
    path.write_text(json.dumps(doc))
    with pytest.raises(mf.ModelError, match=f"levels of column 0 must be numbers or strings; got {kind}$"):
        mf.load(path)


def test_a_dask_message_keeps_its_first_line_only():
    from mixfit.sources.cluster import _first_line

    remote = RuntimeError("worker failed\nTraceback (most recent call last):\n  File 'x.py', line 1")
    assert _first_line(remote) == "worker failed" and _first_line(RuntimeError("")) == "RuntimeError"


# --- overflow: limits or reasons, never NaN ------------------------------------------------------


def test_a_separated_covariate_model_gives_the_limit_far_out(rng):
    import pandas as pd

    age = rng.normal(size=300)
    X = (rng.random((300, 4)) < np.where(age[:, None] > 0, 0.9, 0.1)).astype(int)
    with pytest.warns(mf.IdentifiabilityWarning):  # separated: the slope runs off (stated, as before)
        m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=pd.DataFrame({"age": age}))
    far = pd.DataFrame({"age": [1e307, -1e307]})
    proba = m.predict_proba(X[:2], covariates=far)
    assert np.isfinite(proba).all()
    # each far row goes wholly to the class its prior tends to (the items cannot outweigh it)
    slope = m.covariate_coef_[1, 1]
    expected_first = 1.0 if slope > 0 else 0.0
    np.testing.assert_array_equal(proba[:, 1], [expected_first, 1 - expected_first])


def test_rows_beyond_floating_point_are_an_error_not_nan(rng):
    import pandas as pd

    x = rng.uniform(0, 10, 400)
    y = np.where(np.arange(400) < 200, 1 + 2 * x, 20 - x) + rng.normal(0, 0.5, 400)
    m = mf.Mixture(mf.Regression("gaussian", response="y", predictors=["x"]), 2, random_state=0)
    m.fit(pd.DataFrame({"y": y, "x": x}))
    far = pd.DataFrame({"y": [1.0], "x": [1e160]})
    for method in (m.predict_proba, m.score_samples, m.predict):
        with pytest.raises(mf.DataError, match="1 row\\(s\\) \\(the first: 0\\) have a log-likelihood of nan"):
            method(far)


@pytest.mark.parametrize("covariance", ["diag", "spherical"])
def test_a_subnormal_variance_in_a_model_file_is_refused(rng, tmp_path, covariance):
    X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(5, 1, (100, 1))]
    path = tmp_path / "g.json"
    mf.Mixture(mf.Gaussian(covariance=covariance), 2, random_state=0).fit(X).save(path)
    doc = json.loads(path.read_text())
    doc["params"]["covariance"] = (np.asarray(doc["params"]["covariance"]) * 0 + 1e-320).tolist()
    path.write_text(json.dumps(doc))
    with pytest.raises(mf.ModelError, match="positive variances of at least 2.23e-308"):
        mf.load(path)


# --- valid data at any location and scale -------------------------------------------------------


def test_gaussian_clusters_far_from_the_origin_are_fitted(rng):
    base = np.r_[rng.normal(0, 1, (150, 2)), rng.normal(10, 1, (150, 2))]
    near = mf.Mixture(mf.Gaussian(), 2, random_state=0).fit(base)
    far = mf.Mixture(mf.Gaussian(), 2, random_state=0).fit(base + 1e13)
    # the data at 1e13 carry 2.2e-16 * 1e13 = 2e-3 of round-off per value: the fits agree to that
    np.testing.assert_allclose(
        np.sort(far.params_["mean"][:, 0]) - 1e13, np.sort(near.params_["mean"][:, 0]), atol=0.05
    )
    assert abs(far.log_likelihood_ - near.log_likelihood_) < 0.1


@pytest.mark.parametrize("factor", [1e200, 1e-200])
def test_gaussian_data_whose_variance_floating_point_cannot_hold_are_refused_with_that_reason(rng, factor):
    X = np.r_[rng.normal(0, 1, (50, 2)), rng.normal(10, 1, (50, 2))] * factor
    with pytest.raises(mf.ModelError, match="column 'x0' spreads over .* a Gaussian variance there, about its square"):
        mf.Mixture(mf.Gaussian(), 2, random_state=0).fit(X)


@pytest.mark.parametrize("factor", [1e8, 1e50, 1e-50])
def test_scaled_covariates_and_predictors_are_not_collinear(rng, factor):
    import pandas as pd

    x = rng.uniform(0, 10, 400)
    y = np.where(np.arange(400) < 200, 1 + 2 * x, 20 - x) + rng.normal(0, 0.5, 400)
    family = mf.Regression("gaussian", response="y", predictors=["x"])
    plain = mf.Mixture(family, 2, random_state=0, order="coef").fit(pd.DataFrame({"y": y, "x": x}))
    scaled = mf.Mixture(family, 2, random_state=0, order="coef").fit(pd.DataFrame({"y": y, "x": x * factor}))
    assert scaled.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-9)
    np.testing.assert_allclose(
        np.sort(scaled.params_["coef"][:, 1] * factor), np.sort(plain.params_["coef"][:, 1]), rtol=1e-6
    )
    age = rng.normal(size=400)
    items = (rng.random((400, 4)) < np.where(age[:, None] + rng.normal(0, 1, (400, 1)) > 0, 0.85, 0.15)).astype(int)
    fits = [
        mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(items, covariates=pd.DataFrame({"age": age * f}))
        for f in (1.0, factor)
    ]
    assert fits[1].log_likelihood_ == pytest.approx(fits[0].log_likelihood_, rel=1e-8)


@pytest.mark.parametrize("factor", [1e200, 1e-200])
def test_covariates_and_predictors_beyond_floating_point_are_refused_with_that_reason(rng, factor):
    import pandas as pd

    x = rng.uniform(0, 10, 100)
    frame = pd.DataFrame({"y": 2 * x + rng.normal(size=100), "x": x * factor})
    with pytest.raises(mf.DataError, match="predictor 'x' holds values of magnitude .* rescale it"):
        mf.Mixture(mf.Regression("gaussian", response="y", predictors=["x"]), 2).fit(frame)
    items = (rng.random((100, 3)) < 0.5).astype(int)
    with pytest.raises(mf.DataError, match="covariate column 'age' holds values of magnitude .* rescale the"):
        mf.Mixture(mf.Bernoulli(), 2).fit(items, covariates=pd.DataFrame({"age": x * factor}))


# --- work bounded by size, and said ---------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_binary_fit():
    import pandas as pd

    X = pd.DataFrame((np.random.default_rng(0).random((40, 1100)) < 0.5).astype(int))
    X.columns = [f"x{j}" for j in range(X.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mf.Mixture(mf.Bernoulli(), 2, random_state=0, n_init=2).fit(X), X


def test_standard_errors_of_too_many_parameters_are_refused_before_any_allocation(wide_binary_fit):
    model, X = wide_binary_fit
    with pytest.raises(
        mf.ModelError,
        match=r"the model has \d{4} free parameters: its information matrix \(\d{4} x \d{4}, 0.0 GiB\) is beyond the 2000",
    ):
        model.standard_errors(X)


def test_goodness_of_fit_over_astronomically_many_patterns_has_no_test(wide_binary_fit):
    from mixfit.diagnostics import goodness_of_fit

    model, X = wide_binary_fit
    fit = goodness_of_fit(model, X)
    assert fit.n_patterns == 2**1100 and fit.p_chi2 is None and fit.p_g2 is None
    assert np.isfinite(fit.g2)  # in log space (X^2, about 2^1100 / 40, is beyond floating point: inf)
    assert any("about 10^331 possible patterns" in note for note in fit.notes)


def test_figures_of_wide_data_draw_a_bounded_number_of_entries_and_say_so(wide_binary_fit):
    from mixfit.explain import outcomes
    from mixfit.plots import plot_profiles

    model, X = wide_binary_fit
    fig = plot_profiles(model)
    assert fig.axes[0].get_title().endswith("(the first 60 of 1100)") and len(fig.axes[0].get_xticks()) == 60
    labels = outcomes(model, X).labels()
    assert all(label.endswith(" ...") and len(label.split()) == 41 for label in labels)
    from mixfit.diagnostics import bivariate_residuals

    with pytest.raises(mf.ModelError, match="bivariate residuals not computed: 1100 items make 604450 pairs"):
        bivariate_residuals(model, X)  # refused before any table is built


def test_history_keeps_the_weights_only_when_a_state_is_large(rng):
    X = rng.normal(size=(40, 100))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mf.Mixture(mf.Gaussian(reg_covar=1e-6), 2, random_state=0, n_init=2).fit(X)
    # 2 x (100 + 100 x 100) covariance and mean entries and 2 weights: over the 10,000 kept per row
    assert list(m.history_.filter(like="[").columns) == ["weight[0]", "weight[1]"]
    assert any("history_ holds the weights but not the other parameters" in note for note in m.fit_notes_)
    small = mf.Mixture(mf.Gaussian(), 2, random_state=0, n_init=2).fit(X[:, :3])
    assert "mean[1,2]" in small.history_.columns and not any("history_" in n for n in small.fit_notes_)


def test_every_case_of_this_file_is_listed_in_the_catalogue():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    names = [
        node.name
        for node in ast.parse(Path(__file__).read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and "catalogue" not in node.name
    ]
    text = (root / "docs" / "errors.md").read_text()
    assert len(names) >= 25
    assert [n for n in names if n not in text] == []


def test_the_cli_writes_a_report_of_markup_names_as_text(capsys, tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    names = [f"q{j}{MARKUP}" for j in range(4)]
    frame = pd.DataFrame(
        (rng.random((80, 4)) < np.where(rng.random((80, 1)) < 0.5, 0.2, 0.8)).astype(int), columns=names
    )
    data, report = tmp_path / f"data{MARKUP.replace('/', '_')}.csv", tmp_path / "r.html"
    frame.to_csv(data, index=False)
    code, _, err = run(capsys, "fit", data, "-f", "bernoulli", "-k", "2", "--seed", "0", "--report", report)
    assert code == 0, err
    page = report.read_text()
    assert "<script" not in page and "&lt;script&gt;" in page
    assert {tag for tag, _ in _elements(page)} <= {"html", "head", "meta", "title", "style", "body", "h1", "p", "code",
                                                   "nav", "a", "h2", "table", "thead", "tbody", "tr", "th", "td",
                                                   "figure", "img", "figcaption", "strong", "details", "summary"}  # fmt: skip


def test_the_cli_says_in_one_line_when_rows_are_beyond_floating_point(capsys, rng, tmp_path):
    import pandas as pd

    x = rng.uniform(0, 10, 300)
    y = np.where(np.arange(300) < 150, 1 + 2 * x, 20 - x) + rng.normal(0, 0.5, 300)
    data, model_file, far = tmp_path / "d.csv", tmp_path / "m.json", tmp_path / "far.csv"
    pd.DataFrame({"y": y, "x": x}).to_csv(data, index=False)
    pd.DataFrame({"y": [1.0], "x": [1e160]}).to_csv(far, index=False)
    args = ["-f", "regression", "--kind", "gaussian", "--response", "y", "--predictors", "x", "--seed", "0"]
    assert run(capsys, "fit", data, *args, "--out", model_file)[0] == 0
    code, _, err = run(capsys, "predict", model_file, far)
    assert code == 2 and "have a log-likelihood of nan" in err and len(err.strip().splitlines()) == 1


# --- a model with covariates gets a report, figures and goodness of fit ---------------------------


def test_a_covariate_model_reports_its_coefficients_odds_ratios_and_prevalence(with_covariates, tmp_path):
    import re

    from scipy.stats import norm

    from mixfit.plots import all_figures

    X, Z = with_covariates[["q1", "q2", "q3", "q4"]], with_covariates[["age", "inc"]]
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=Z)
    with pytest.raises(mf.DataError, match="pass covariates="):
        m.report(X, tmp_path / "r.html")
    page = m.report(X, tmp_path / "r.html", covariates=Z).read_text()
    section = page.split('id="covariates"')[1].split("</table>")[0]
    row = re.search(r"<th>age</th>(.*?)</tr>", section, flags=re.S).group(1)
    coefficient, error, _, _, odds, lower, upper = (float(v) for v in re.findall(r"<td>([^<]*)</td>", row))
    se = m.standard_errors(X, covariates=Z).covariate_coef[1, 1]
    beta, z95 = m.covariate_coef_[1, 1], norm.ppf(0.975)
    # the table prints 4 decimals: each value within half a unit of the 4th (columns: estimate, se,
    # z, p, odds ratio and its interval)
    assert coefficient == pytest.approx(beta, abs=5e-5) and error == pytest.approx(se, abs=5e-5)
    assert odds == pytest.approx(np.exp(beta), abs=5e-5)
    assert lower == pytest.approx(np.exp(beta - z95 * se), abs=5e-5)
    assert upper == pytest.approx(np.exp(beta + z95 * se), abs=5e-5)
    assert "prevalence" in all_figures(m, X, covariates=Z) and 'alt="prevalence"' in page


def test_goodness_of_fit_of_a_covariate_model_sums_each_rows_own_prior(with_covariates):
    from mixfit.concomitant import log_prior
    from mixfit.diagnostics import goodness_of_fit

    X, Z = with_covariates[["q1", "q2", "q3", "q4"]], with_covariates[["age", "inc"]]
    m = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(X, covariates=Z)
    fit = goodness_of_fit(m, X)
    prior = np.exp(log_prior(m.covariate_coef_, np.column_stack([np.ones(len(Z)), Z.to_numpy()])))  # (K, n)
    p = m.params_["p"]
    for _, row in fit.table.iterrows():
        x = row[["q1", "q2", "q3", "q4"]].to_numpy(dtype=float)
        by_class = np.prod(np.where(x == 1, p, 1 - p), axis=1)  # p(x | k)
        assert row["expected"] == pytest.approx(float((prior.T @ by_class).sum()), rel=1e-9)


def test_the_cli_writes_a_report_and_figures_of_a_covariate_model(with_covariates, capsys, tmp_path):
    data = tmp_path / "d.csv"
    with_covariates.to_csv(data, index=False)
    code, _, err = run(
        capsys, "fit", data, "-f", "bernoulli", "--covariates", "age,inc", "--seed", "0",
        "--report", tmp_path / "r.html", "--plots", tmp_path / "figures", "--gof",
    )  # fmt: skip
    assert code == 0, err
    assert 'id="covariates"' in (tmp_path / "r.html").read_text()
    assert (tmp_path / "figures" / "prevalence.png").stat().st_size > 1000
