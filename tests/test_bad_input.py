"""Bad input: the exact exception type and a message that names the problem."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import mixfit as mf
from tests.conftest import THREE_COINS

BIN = mf.Bernoulli
COINS = [6, 5, 4, 2, 2, 6, 5, 5, 4, 2]

FIT_CASES = [
    ("empty data", BIN(), {}, np.empty((0, 3)), mf.DataError, r"at least one row and one column"),
    ("3-D data", BIN(), {}, np.zeros((2, 2, 2)), mf.DataError, r"1-D or 2-D"),
    (
        "Binomial row with every count missing",
        mf.Binomial(n_trials=5),
        {},
        [[1.0], [np.nan]],
        mf.DataError,
        r"row 1 is entirely missing",
    ),
    ("row entirely missing", BIN(), {}, [[0, 1], [np.nan, np.nan]], mf.DataError, r"row 1 is entirely missing"),
    ("inf", mf.Binomial(n_trials=5), {}, [[1.0], [np.inf]], mf.DataError, r"must be finite; got inf"),
    ("non-binary", BIN(), {}, [[0, 1], [1, 2]], mf.DataError, r"column 'x1' .*must be binary .*got 2"),
    (
        "strings for Bernoulli",
        BIN(),
        {},
        [["a", "b"], ["c", "d"]],
        mf.DataError,
        r"column 'x0' .*must be numeric",
    ),
    (
        "negative count",
        mf.Binomial(n_trials=5),
        {},
        [[1], [-1]],
        mf.DataError,
        r"whole counts between 0 and n_trials; got -1",
    ),
    ("fractional count", mf.Binomial(n_trials=5), {}, [[1.5], [2]], mf.DataError, r"whole counts.*got 1.5"),
    (
        "count above trials",
        mf.Binomial(n_trials=5),
        {},
        [[1], [6]],
        mf.DataError,
        r"got 6 with n_trials 5 in row 1",
    ),
    (
        "missing trials column",
        mf.Binomial(n_trials="n"),
        {},
        pd.DataFrame({"x": [1, 2]}),
        mf.DataError,
        r"column 'n' not in the data \(n_trials column\); columns are \['x'\]",
    ),
    (
        "zero trials",
        mf.Binomial(n_trials="n"),
        {},
        pd.DataFrame({"x": [0, 1], "n": [0, 3]}),
        mf.DataError,
        r"n_trials column 'n' must hold whole numbers >= 1; got 0",
    ),
    (
        "n_components 0",
        BIN(),
        {"n_components": 0},
        [[0], [1]],
        mf.ModelError,
        r"n_components must be an int >= 1; got 0",
    ),
    (
        "n_components float",
        BIN(),
        {"n_components": 2.5},
        [[0], [1]],
        mf.ModelError,
        r"n_components must be an int",
    ),
    (
        "K above rows",
        BIN(),
        {"n_components": 3},
        [[0], [1]],
        mf.ModelError,
        r"<= the number of rows \(2\); got 3",
    ),
    (
        "K above distinct rows",
        mf.Binomial(n_trials=10),
        {"n_components": 4},
        [1, 1, 2, 2, 3, 3],
        mf.ModelError,
        r"<= the number of distinct rows \(3\); got 4",
    ),
    (
        "bad init",
        BIN(),
        {"init": "kmeans"},
        [[0], [1]],
        mf.ModelError,
        r"init must be one of \['auto', 'k-means\+\+', 'random-rows', 'random', 'hard-k-means\+\+', 'hierarchical'\]",
    ),
    (
        "bad max_iter",
        BIN(),
        {"max_iter": 0},
        [[0], [1]],
        mf.ModelError,
        r"max_iter must be an int >= 1; got 0",
    ),
    ("negative tol", BIN(), {"tol": -1.0}, [[0], [1]], mf.ModelError, r"tol must be a finite number >= 0"),
    (
        "weights not summing to 1",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "weights_init": [0.5, 0.6]},
        COINS,
        mf.ModelError,
        r"weights_init must sum to 1; got sum 1.1",
    ),
    (
        "weights of the wrong shape",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "weights_init": [1.0]},
        COINS,
        mf.ModelError,
        r"weights_init must have shape \(2,\); got \(1,\)",
    ),
    (
        "params of the wrong shape",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "params_init": {"p": [0.1, 0.2, 0.3]}},
        COINS,
        mf.ModelError,
        r"params_init\['p'\] must have shape \(2, 1\); got \(3, 1\)",
    ),
    (
        "probability above 1",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "params_init": {"p": [0.1, 1.2]}},
        COINS,
        mf.ModelError,
        r"params_init\['p'\] must lie in \[0, 1\]",
    ),
    (
        "params without p",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "params_init": {"q": [0.1, 0.2]}},
        COINS,
        mf.ModelError,
        r"params_init must be a dict with key 'p'",
    ),
    ("unknown family name", "gamma", {}, [[0], [1]], mf.ModelError, r"family must be one of \['bernoulli'"),
    (
        "categorical column never observed",
        mf.Categorical(),
        {},
        np.array([["a", None], [None, None]], dtype=object),
        mf.DataError,
        r"column 'x1' has no observed values",
    ),
    (
        "categorical mixed types",
        mf.Categorical(),
        {},
        np.array([["a"], [1]], dtype=object),
        mf.DataError,
        r"column 'x0' mixes value types \['int', 'str'\]",
    ),
    (
        "duplicate column names",
        BIN(),
        {},
        pd.DataFrame([[0, 1]], columns=["a", "a"]),
        mf.DataError,
        r"column names must be unique; got duplicates \['a'\]",
    ),
]


@pytest.mark.parametrize(
    ("family", "options", "X", "error", "message"), [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES]
)
def test_fit_refuses_bad_input(family, options, X, error, message):
    with pytest.raises(error, match=message):
        mf.Mixture(family, **options).fit(X)


def test_bad_sample_weight():
    with pytest.raises(mf.DataError, match=r"sample_weight must have shape \(3,\); got \(2,\)"):
        mf.Mixture(BIN()).fit([0, 1, 1], sample_weight=[1, 2])
    with pytest.raises(mf.DataError, match="finite and >= 0"):
        mf.Mixture(BIN()).fit([0, 1, 1], sample_weight=[1, -2, 1])


def test_predict_before_fit_and_mismatched_columns():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        mf.Mixture(BIN()).predict([[0, 1]])
    m = mf.Mixture(BIN(), 1).fit([[0, 1], [1, 1]])
    with pytest.raises(mf.DataError, match="X has 3 features, but Mixture is expecting 2 features as input"):
        m.predict([[0, 1, 1]])
    with pytest.raises(mf.DataError, match="column 'x1' .*must be binary"):
        m.predict([[0, 3]])


def test_errors_are_value_errors_and_one_line():
    with pytest.raises(ValueError) as info:
        mf.Mixture(BIN(), n_components=-1).fit([[0]])
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- more Python API cases
MORE_API_CASES = [
    ("one row, two components", BIN(), {"n_components": 2}, [[0, 1]], mf.ModelError, r"<= the number of rows \(1\)"),
    ("bool as n_components", BIN(), {"n_components": True}, [[0], [1]], mf.ModelError, r"n_components must be an int"),
    (
        "object column of floats and text",
        BIN(),
        {},
        np.array([[0, "x"], [1, 0]], dtype=object),
        mf.DataError,
        r"column 'x1' must be numeric",
    ),
    (
        "complex numbers",
        BIN(),
        {},
        np.array([[1j], [0]]),
        mf.DataError,
        r"X must hold real numbers: Complex data not supported",
    ),
    ("n_init 0", BIN(), {"n_init": 0}, [[0], [1]], mf.ModelError, r"n_init must be an int >= 1; got 0"),
    ("nan tol", BIN(), {"tol": float("nan")}, [[0], [1]], mf.ModelError, r"tol must be a finite number >= 0"),
    ("bad compress", BIN(), {"compress": "yes"}, [[0], [1]], mf.ModelError, r"compress must be one of"),
    (
        "checkpoint_every 0",
        BIN(),
        {"checkpoint_every": 0},
        [[0], [1]],
        mf.ModelError,
        r"checkpoint_every must be an int >= 1",
    ),
    (
        "negative weight",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "weights_init": [-0.5, 1.5]},
        COINS,
        mf.ModelError,
        r"weights_init must lie in \[0, 1\]",
    ),
    (
        "nan in params",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "params_init": {"p": [np.nan, 0.5]}},
        COINS,
        mf.ModelError,
        r"params_init\['p'\] must be finite",
    ),
    (
        "categorical params not summing to 1",
        mf.Categorical(levels=[["a", "b"]]),
        {"n_components": 1, "params_init": {"p": [[[0.3, 0.3]]]}},
        np.array([["a"], ["b"]], dtype=object),
        mf.ModelError,
        r"must sum to 1 over each column's levels",
    ),
    (
        "trials array of the wrong length",
        mf.Binomial(n_trials=np.array([5, 5, 5])),
        {},
        [[1], [2]],
        mf.DataError,
        r"n_trials must have one entry per row \(2\); got shape \(3,\)",
    ),
    ("list cells", mf.Categorical(), {}, pd.DataFrame({"a": [[0], [1]]}), mf.DataError, r"'a' holds list values"),
    ("dict cells", mf.Categorical(), {}, pd.DataFrame({"a": [{"x": 1}, {"x": 2}]}), mf.DataError, r"dict values"),
    ("bytes cells", mf.Categorical(), {}, pd.DataFrame({"a": [b"x", b"y"]}), mf.DataError, r"decode them to text"),
    (
        "trials beyond the clamp",
        mf.Binomial(n_trials="n"),
        {},
        pd.DataFrame({"x": [1, 2], "n": [10.0**30, 10.0**30]}),
        mf.DataError,
        r"whole numbers up to 1e\+12; got 1e\+30 .*model such counts as Poisson",
    ),
    (
        "weights summing past the largest float",
        BIN(),
        {"sample_weight": np.full(2, 1e308)},
        [[0], [1]],
        mf.DataError,
        r"sample_weight sums to more than the largest float",
    ),
    (
        "subnormal weights",
        BIN(),
        {"sample_weight": np.full(2, 5e-324)},
        [[0], [1]],
        mf.DataError,
        r"sample_weight has positive values below 2.23e-308",
    ),
    ("checkpoint not a path", BIN(), {"checkpoint": 123}, [[0], [1]], mf.ModelError, r"checkpoint must be None or a"),
    ("negative seed", BIN(), {"random_state": -1}, [[0], [1]], mf.ModelError, r"random_state must be None, an int"),
]


@pytest.mark.parametrize(
    ("family", "options", "X", "error", "message"), [c[1:] for c in MORE_API_CASES], ids=[c[0] for c in MORE_API_CASES]
)
def test_more_bad_api_input(family, options, X, error, message):
    weight = options.pop("sample_weight", None)
    with pytest.raises(error, match=message):
        mf.Mixture(family, **options).fit(X, sample_weight=weight)


def test_trials_and_levels_given_to_a_family_are_checked():
    with pytest.raises(mf.ModelError, match=r"n_trials must be an int between 1 and 1e\+12; got 10{30}"):
        mf.Binomial(n_trials=10**30)
    with pytest.raises(mf.ModelError, match="levels of column 0 must be numbers or strings; got dict"):
        mf.Categorical(levels=[[{"x": 1}, "b"]])
    with pytest.raises(mf.ModelError, match="levels of column 1 repeat a value"):
        mf.Categorical(levels=[["a"], ["b", "b"]])


def test_report_before_fit_says_not_fitted(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        mf.Mixture(BIN(), 2).report([[0], [1]], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_constant_columns_and_one_row_are_valid_data():
    m = mf.Mixture(BIN(), 1).fit([[1, 0], [1, 0], [1, 0]])
    np.testing.assert_allclose(m.params_["p"], [[1 - 1e-12, 1e-12]])
    assert np.isfinite(m.log_likelihood_)
    assert mf.Mixture(BIN(), 1).fit([[0, 1]]).n_iter_ >= 1


# ----------------------------------------------------------------------------- CLI: files
FILE_CASES = [
    ("truncated CSV", "q1,q2\n0,1\n1,1\n0", ["-f", "bernoulli"], r"line 4 has 1 field\(s\); the header has 2"),
    ("wrong delimiter", "q1;q2\n0;1\n1;0\n", ["-f", "bernoulli"], r"looks ';'-separated"),
    ("tab-separated", "q1\tq2\n0\t1\n", ["-f", "bernoulli"], r"pass --sep '\\t'"),
    ("non-UTF-8 bytes", b"q1\n\xff\xfe\n", ["-f", "bernoulli"], r"'utf-8' codec can't decode"),
    ("duplicated header", "a,a\n0,1\n", ["-f", "bernoulli"], r"duplicated column names \['a'\]"),
    ("trailing delimiter", "a,b,\n0,1,\n1,0,\n", ["-f", "bernoulli"], r"column 3 of the header has no name"),
    ("NA,NA header", "NA,NA\n0,1\n1,0\n", ["-f", "bernoulli"], r"duplicated column names \['NA'\]"),
    ("empty file", "", ["-f", "bernoulli"], r"is empty"),
    ("header only", "q1,q2\n", ["-f", "bernoulli"], r"has no rows"),
    (
        "text in a count column",
        "heads\n3\nfour\n",
        ["-f", "binomial", "--trials", "10"],
        r"column 'heads' must be numeric",
    ),
    (
        "zero trials",
        "h,n\n3,10\n4,0\n",
        ["-f", "binomial", "--trials-column", "n"],
        r"must hold whole numbers >= 1; got 0",
    ),
    (
        "missing trials",
        "h,n\n3,10\n4,\n",
        ["-f", "binomial", "--trials-column", "n"],
        r"must hold whole numbers >= 1; got nan",
    ),
    (
        "misspelled trials column",
        "h,flips\n3,10\n",
        ["-f", "binomial", "--trials-column", "flip"],
        r"did you mean 'flips'",
    ),
    (
        "misspelled column",
        "answer1,answer2\n0,1\n",
        ["-f", "bernoulli", "--columns", "answer1,answr2"],
        r"did you mean 'answer2'",
    ),
    (
        "K above distinct rows",
        "x\n1\n1\n2\n",
        ["-f", "binomial", "--trials", "3", "-k", "3"],
        r"number of distinct rows \(2\)",
    ),
    ("negative K", "x\n0\n1\n", ["-f", "bernoulli", "-k", "-1"], r"n_components must be an int >= 1; got -1"),
    ("resume without checkpoint", "x\n0\n1\n", ["-f", "bernoulli", "--resume"], r"--resume needs --checkpoint"),
    (
        "pattern as separator",
        "a b\n0 1\n1 \n",
        ["-f", "bernoulli", "--sep", "\\s+"],
        r"separator must be one character",
    ),
    (
        "text after many numbers",
        "a,b\n" + "0,1\n1,0\n" * 3000 + "x,1\n",
        ["-f", "bernoulli"],
        r"column 'a' must be numeric; got 'x' in row 6000",
    ),
]


@pytest.mark.parametrize(("content", "args", "message"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_bad_files_through_the_cli(content, args, message, tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for streamed in ([], ["--chunk-size", "2"]):  # one validation, one answer, on both paths
        code, err = _cli(capsys, "fit", str(path), *args, *streamed)
        assert code == 2 and re.search(message, err), (streamed, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_npy_header_claiming_more_than_the_file_holds(tmp_path, capsys):
    # a 1e11-row header on a file of a few bytes asked NumPy for 2.9 TiB (a MemoryError traceback)
    import struct

    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 4), }"
    header += " " * (118 - len(header)) + "\n"
    path = tmp_path / "huge.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(64))
    code, err = _cli(capsys, "fit", str(path), "-f", "bernoulli")
    assert code == 2 and "truncated or corrupt .npy file" in err and "Traceback" not in err
    with pytest.raises(mf.DataError, match=r"claims shape \(100000000000, 4\)"):
        mf.Mixture(mf.Bernoulli(), 2).fit(mf.FileTable(path))


def test_not_parquet_and_missing_file(tmp_path, capsys):
    (tmp_path / "x.parquet").write_text("not parquet")
    code, err = _cli(capsys, "fit", str(tmp_path / "x.parquet"), "-f", "bernoulli")
    assert code == 2 and "Parquet magic bytes not found" in err
    code, err = _cli(capsys, "fit", str(tmp_path / "nope.csv"), "-f", "bernoulli")
    assert code == 2 and "does not exist" in err


def test_a_bom_is_read_as_part_of_the_encoding(tmp_path, capsys):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfq1,q2\n0,1\n1,1\n")
    code, _ = _cli(capsys, "fit", str(path), "-f", "bernoulli", "-k", "1", "--columns", "q1")
    assert code == 0


def _cli(capsys, *args):
    from mixfit.cli import main

    with pytest.raises(SystemExit) as done:
        main(list(args))
    return done.value.code, capsys.readouterr().err


# ----------------------------------------------------------------------------- untrusted model files
def _good_model_doc(tmp_path):
    m = mf.Mixture(mf.Binomial(n_trials=10), 2, weights_init=[0.5, 0.5], params_init={"p": [0.3, 0.7]}).fit(COINS)
    m.save(tmp_path / "good.json")
    return json.loads((tmp_path / "good.json").read_text())


HOSTILE = [
    ("unknown field", lambda d: {**d, "exec": "import os"}, r"unknown field\(s\) \['exec'\]"),
    (
        "unknown family",
        lambda d: {**d, "family": {"family": "__import__('os').system('true')"}},
        r"family must be one of",
    ),
    (
        "unknown family setting",
        lambda d: {**d, "family": {"family": "binomial", "n_trials": 10, "code": 1}},
        r"unknown or invalid settings",
    ),
    ("NaN weight", lambda d: json.dumps(d).replace(str(d["weights"][0]), "NaN", 1), r"non-finite number \(NaN\)"),
    (
        "Infinity in params",
        lambda d: json.dumps(d).replace(str(d["params"]["p"][0][0]), "Infinity", 1),
        r"non-finite number \(Infinity\)",
    ),
    ("weights of another length", lambda d: {**d, "weights": [1.0]}, r"weights must have shape \(2,\)"),
    (
        "params far beyond the shape",
        lambda d: {**d, "params": {"p": [[0.5]] * 100_000}},
        r"model params\['p'\] must have shape \(2, 1\)",
    ),
    ("ragged params", lambda d: {**d, "params": {"p": [[0.5], [0.1, 0.2]]}}, r"rectangular array of numbers"),
    ("extra parameter", lambda d: {**d, "params": {**d["params"], "q": [1]}}, r"must hold exactly \['p'\]"),
    (
        "probability above 1",
        lambda d: {**d, "params": {"p": [[0.5], [1.5]]}},
        r"model params\['p'\] must lie in \[0, 1\]",
    ),
    ("huge n_components", lambda d: {**d, "n_components": 10**9}, r"'n_components': .*less than or equal to 10000"),
    ("format_version true", lambda d: {**d, "format_version": True}, r"format_version must be 1; got True"),
    ("weights as strings", lambda d: {**d, "weights": ["0.5", "0.5"]}, r"'weights\.0': Input should be a valid number"),
    (
        "missing read as a boolean",
        lambda d: {**d, "family": {**d["family"], "missing": "no"}},
        r"setting 'missing' is 'no', which mixfit would read as True",
    ),
    ("no family", lambda d: {k: v for k, v in d.items() if k != "family"}, r"'family': Field required"),
    ("converged as text", lambda d: {**d, "fit": {**d["fit"], "converged": "yes"}}, r"'fit\.converged'"),
    ("repeated key", lambda d: json.dumps(d)[:-1] + ', "n_components": 3}', r"repeats the key 'n_components'"),
    (
        "history longer than the fit",
        lambda d: {**d, "history": {k: v * 50 for k, v in d["history"].items()}},
        r"lists of one length <= n_iter \+ 1",
    ),
    (
        "unknown history column",
        lambda d: {**d, "history": {**d["history"], "evil": [0]}},
        r"unknown column\(s\) \['evil'\]",
    ),
    (
        "text in history",
        lambda d: {**d, "history": {k: ["x"] * len(v) for k, v in d["history"].items()}},
        r"'history\.log_likelihood\.0': Input should be a valid number",
    ),
    ("unknown setting", lambda d: {**d, "settings": {"max_iter": 5, "verbose": 1}}, r"settings must hold only"),
    ("not a model", lambda d: [1, 2, 3], r"is not a mixfit model file"),
    (
        "lone surrogate in a column name",
        lambda d: json.dumps({**d, "columns": ["x"]}).replace('["x"]', '["x\\ud800"]'),
        r"string that is not valid Unicode",
    ),
    (
        "levels that are objects",
        lambda d: {**d, "family": {"family": "categorical", "levels": [[{"x": 1}, "b"]], "missing": False}},
        r"levels of column 0 must be numbers or strings",
    ),
    ("other version", lambda d: {**d, "format_version": 2}, r"format_version must be 1; got 2"),
    ("truncated", lambda d: json.dumps(d)[:100], r"not a valid mixfit model file"),
    (
        "deep nesting",
        lambda d: "[" * 100_000 + "]" * 100_000,
        r"not a valid mixfit model file|is not a mixfit model file",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_model_files_are_refused(mutate, message, tmp_path):
    doc = _good_model_doc(tmp_path)
    bad = mutate(doc)
    (tmp_path / "bad.json").write_text(bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.raises(mf.ModelError, match=message):
        mf.load(tmp_path / "bad.json")


def test_oversized_model_file_is_refused_before_parsing(tmp_path, monkeypatch):
    import mixfit.io

    monkeypatch.setattr(mixfit.io, "MAX_MODEL_BYTES", 1000)
    (tmp_path / "big.json").write_text(" " * 2000)
    with pytest.raises(mf.ModelError, match="2000 bytes, more than the 1000 allowed"):
        mf.load(tmp_path / "big.json")


def test_catalogue_is_listed_in_the_docs():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text()
    names = [c[0] for c in FIT_CASES + MORE_API_CASES + FILE_CASES + HOSTILE]
    missing = [n for n in names if n not in text]
    assert not missing, missing
    assert len(names) >= 40


def test_compression_keeps_huge_whole_numbers_distinct():
    """Whole numbers beyond 2^53 are not coded as int64 row codes (which overflowed and merged
    or crashed): 8 distinct rows near 1e19 stay 8, with their counts."""
    from mixfit.sources import unique_rows

    X = np.repeat(1e19 + np.arange(8)[:, None] * 4096.0, 3, axis=0)
    distinct, inverse, counts = unique_rows(X)
    assert len(distinct) == 8 and counts.tolist() == [3] * 8
    np.testing.assert_array_equal(distinct[inverse], X)


def test_an_atomic_replace_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "model.json"
    m = mf.Mixture(mf.Binomial(n_trials=10), 2, random_state=0).fit(np.array(THREE_COINS))
    m.save(path)
    path.chmod(0o600)
    m.save(path)
    assert (path.stat().st_mode & 0o777) == 0o600


def test_sizes_are_checked_before_anything_is_allocated(capsys):
    from mixfit.cli import main

    m = mf.Mixture(mf.Binomial(n_trials=10), 2, random_state=0).fit(np.array(THREE_COINS))
    with pytest.raises(mf.ModelError, match=r"n_samples=1000000000 would draw 1000000000 values, more than the"):
        m.sample(10**9)  # 16 GB before; refused at once
    with pytest.raises(mf.ModelError, match="at most 1000 values of K"):
        mf.select(np.array(THREE_COINS), mf.Binomial(n_trials=10), range(1, 10**9))
    with pytest.raises(SystemExit) as done:
        main(["select", "examples/three_coins.csv", "-f", "binomial", "--trials", "10", "-k", "1..1000000000"])
    assert done.value.code == 2
    assert "-k may list at most 1000 values; got '1..1000000000'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("family", "X"),
    [
        (mf.Poisson(), np.r_[np.full(10, 1e306), np.arange(10.0)][:, None]),
        (mf.Gaussian("diag"), np.random.default_rng(0).normal(0, 1, (100, 1)) * 1e-160),
    ],
    ids=["counts-1e306", "gaussian-1e-160"],
)
def test_data_beyond_floating_point_are_refused_with_the_reason_never_nan(family, X):
    """Before: NaN weights and log-likelihood with only warnings, then 'weights_ must be finite'."""
    with pytest.raises(mf.ModelError, match="beyond what floating point holds here.*rescale the data"):
        mf.Mixture(family, 2, random_state=0).fit(X)


def test_temporary_files_of_a_killed_write_are_removed_by_the_next_write(tmp_path):
    """A killed streamed predict or model write leaves `.name.*.tmp` beside its target; the next
    write to that target removes those untouched for 10 minutes, never a live one or another's."""
    import os
    import time

    target = tmp_path / "model.json"
    old = tmp_path / ".model.json.abc123.tmp"
    live = tmp_path / ".model.json.def456.tmp"
    other = tmp_path / ".other.json.abc123.tmp"
    for path in (old, live, other):
        path.write_text("partial")
    hour_ago = time.time() - 3600
    for path in (old, other):
        os.utime(path, (hour_ago, hour_ago))
    mf.Mixture(mf.Binomial(n_trials=10), 2, random_state=0).fit(np.array(THREE_COINS)).save(target)
    assert not old.exists() and live.exists() and other.exists() and target.exists()


def test_parquet_columns_with_one_name_or_nested_values(tmp_path, capsys):
    """Duplicate Parquet names were fitted as p of shape (2, 4) for 2 names; list and struct
    columns were TypeError tracebacks; bytes broke --json. In memory, streamed and through the API."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    cases = {
        "dup.parquet": (pa.table([pa.array([0, 1, 1, 0]), pa.array([1, 1, 0, 0])], names=["a", "a"]), "duplicated"),
        "list.parquet": (pa.table({"a": pa.array([[0], [1], [1], [0]]), "b": [1, 0, 1, 0]}), "'a' holds list"),
        "struct.parquet": (pa.table({"a": pa.array([{"x": 1}, {"x": 2}] * 2), "b": [1, 0, 1, 0]}), "holds dict"),
        "bytes.parquet": (pa.table({"a": pa.array([b"x", b"y"] * 2), "b": [1, 0, 1, 0]}), "decode them to text"),
    }
    for name, (table, message) in cases.items():
        path = tmp_path / name
        pq.write_table(table, path)
        for streamed in ([], ["--chunk-size", "2"]):
            code, err = _cli(capsys, "fit", str(path), "-f", "categorical", "-k", "2", "--json", *streamed)
            assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (name, streamed, err)
        with pytest.raises(mf.DataError, match=message):
            mf.Mixture(mf.Categorical(), 2).fit(mf.FileTable(path))


def test_a_poisson_rate_beyond_the_sampler_is_one_line(tmp_path):
    m = mf.Mixture(mf.Poisson(), 2, random_state=0).fit(np.array([[1], [2], [8], [9], [1], [10]]))
    m.params_ = {"rate": np.array([[1e308], [2.0]])}
    with pytest.raises(mf.ModelError, match="cannot draw Poisson counts at a rate of 1e\\+308"):
        m.sample(5)


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    import errno
    from pathlib import Path

    out = tmp_path / "model.json"
    out.write_text("old model")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", full)
    code, err = _cli(capsys, "fit", "examples/three_coins.csv", "-f", "binomial", "--trials", "10", "--out", str(out))
    assert code == 1 and "No space left on device" in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "old model" and list(tmp_path.iterdir()) == [out]


def test_dask_type_changes_and_bad_scheduler_are_one_line(tmp_path, capsys):
    dd = pytest.importorskip("dask.dataframe")
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "0,1\n1,0\n" * 3000 + "x,1\n")
    with pytest.raises(mf.DataError, match=r"column\(s\) \['a'\] change type after the first rows.*'x'"):
        mf.Mixture(BIN(), 2, random_state=0).fit(dd.read_csv(str(path), blocksize=20_000))
    pytest.importorskip("distributed")
    code, err = _cli(capsys, "fit", str(path), "-f", "bernoulli", "--scheduler", "bogus://x")
    assert code == 2 and "cannot reach the Dask scheduler at 'bogus://x'" in err


def test_dates_and_three_dimensional_npy_get_one_answer_on_every_path(tmp_path, capsys):
    """Dates were fitted as nanoseconds when streamed and refused in memory; a 3-D .npy was
    flattened in memory and refused streamed. One answer now, in memory, streamed and by API."""
    pytest.importorskip("pyarrow")
    dates = tmp_path / "dates.parquet"
    pd.DataFrame({"t": pd.date_range("2020-01-01", periods=6), "a": [0, 1, 0, 1, 1, 0]}).to_parquet(dates)
    cube = tmp_path / "cube.npy"
    np.save(cube, np.zeros((4, 2, 2)))
    for path, message in ((dates, "column 't' holds dates or times"), (cube, r"1-D or 2-D array .*shape \(4, 2, 2\)")):
        for streamed in ([], ["--chunk-size", "2"]):
            code, err = _cli(capsys, "fit", str(path), "-f", "bernoulli", "-k", "2", *streamed)
            assert code == 2 and re.search(message, err), (path, streamed, err)
    for frame in (pd.read_parquet(dates), pd.read_parquet(dates).astype(object)):
        with pytest.raises(mf.DataError, match="column 't' holds dates or times"):
            mf.Mixture(BIN(), 2).fit(frame)


def test_a_dataframe_with_a_column_named_like_a_sparse_method_is_data():
    frame = pd.DataFrame({"toarray": [0, 1, 1, 0, 1, 0] * 5, "todense": [1, 1, 0, 0, 1, 0] * 5})
    model = mf.Mixture(mf.Bernoulli(), 1, random_state=0).fit(frame)
    assert model.columns_ == ["toarray", "todense"]
    np.testing.assert_allclose(model.params_["p"], [[0.5, 0.5]])


def test_distinct_rows_of_fractions_with_gaps_equal():
    from mixfit.sources import unique_rows

    rows = np.array([[1.0, np.nan], [0.5, 2.0], [1.0, np.nan], [0.5, 2.0], [0.5, 3.0], [np.nan, np.nan]])
    distinct, inverse, counts = unique_rows(rows)
    np.testing.assert_array_equal(distinct, [[0.5, 2.0], [0.5, 3.0], [1.0, np.nan], [np.nan, np.nan]])
    assert inverse.tolist() == [2, 0, 2, 0, 1, 3] and counts.tolist() == [2, 1, 2, 1]
    assert len(unique_rows(rows[:0])[0]) == 0 and unique_rows(rows[:1])[2].tolist() == [1]
    with pytest.raises(mf.ModelError, match="n_components must be <= the number of distinct rows \\(2\\); got 3"):
        mf.Mixture(mf.Gaussian("diag"), 3).fit(np.array([[0.5, 1.0], [2.0, 3.0]] * 10))
