"""The command line: tables, JSON, model files, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixfit as mf
from mixfit.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_fit_prints_tables(capsys):
    code, out, _ = run(
        capsys,
        "fit",
        str(EXAMPLES / "two_coins.csv"),
        "--family",
        "binomial",
        "--trials",
        "10",
        "-k",
        "2",
        "--seed",
        "0",
    )
    assert code == 0
    assert "weight" in out and "p[heads]" in out and "converged" in out


def test_fit_json_and_model_file_round_trip(capsys, tmp_path):
    model_path = tmp_path / "model.json"
    code, out, _ = run(
        capsys,
        "fit",
        str(EXAMPLES / "survey.csv"),
        "-f",
        "bernoulli",
        "-k",
        "3",
        "--n-init",
        "3",
        "--seed",
        "0",
        "--json",
        "--out",
        str(model_path),
    )
    assert code == 0
    summary = json.loads(out)
    assert sorted(summary["weights"]) == pytest.approx([0.2, 0.3, 0.5], abs=0.03)
    assert summary["converged"] and summary["n_parameters"] == 3 * 8 + 2
    model = mf.load(model_path)
    assert model.log_likelihood_ == summary["log_likelihood"]
    np.testing.assert_array_equal(model.weights_, summary["weights"])  # exact float round-trip
    import pandas as pd

    frame = pd.read_csv(EXAMPLES / "survey.csv")
    assert model.score_samples(frame).sum() == pytest.approx(summary["log_likelihood"], rel=1e-12)


def test_fit_with_squarem_and_float32_reaches_the_same_maximum_in_fewer_passes(capsys):
    summaries = {}
    for speed in (["--accelerate", "none"], ["--accelerate", "squarem"], ["--accelerate", "squarem", "--float32"]):
        args = ["fit", str(EXAMPLES / "survey.csv"), "-f", "bernoulli", "-k", "3", "--seed", "0", "--tol", "1e-10"]
        code, out, _ = run(capsys, *args, "--json", *speed)
        assert code == 0
        summaries[" ".join(speed)] = json.loads(out)
    plain, fast = summaries["--accelerate none"], summaries["--accelerate squarem"]
    single = summaries["--accelerate squarem --float32"]
    assert plain["e_steps"] == plain["n_iter"] + 1  # plain EM: one pass per iteration, plus the last
    assert fast["e_steps"] < plain["e_steps"]
    assert fast["log_likelihood"] == pytest.approx(plain["log_likelihood"], abs=1e-6)
    assert single["log_likelihood"] == pytest.approx(plain["log_likelihood"], rel=1e-6)
    code, _, err = run(capsys, "fit", str(EXAMPLES / "survey.csv"), "-f", "bernoulli", "--accelerate", "qn")
    assert code == 2 and "'qn' is not one of 'auto', 'none'," in err and "Traceback" not in err


def test_identifiability_warning_is_shown(capsys, tmp_path):
    flips = tmp_path / "flips.csv"
    flips.write_text("x\n" + "\n".join(["1"] * 4 + ["0"] * 6) + "\n")
    code, _, err = run(capsys, "fit", str(flips), "-f", "bernoulli", "-k", "2", "--seed", "1")
    assert code == 0 and "not identifiable" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "missing.csv", "-f", "bernoulli"], "data file 'missing.csv' does not exist"),
        (["fit", str(EXAMPLES / "three_coins.csv"), "-f", "bernoulli"], "must be binary"),
        (["fit", str(EXAMPLES / "three_coins.csv"), "-f", "binomial", "--trials", "5"], "whole counts"),
        (
            ["fit", str(EXAMPLES / "three_coins.csv"), "-f", "binomial", "--trials", "10", "-k", "9"],
            "distinct rows",
        ),
        (
            ["fit", str(EXAMPLES / "survey.csv"), "-f", "bernoulli", "--columns", "q1,qq"],
            "column 'qq' not in",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_usage_error_exits_2_without_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "mixfit", "fit", "x.csv", "--family", "bogus"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "bogus" in done.stderr


def _fit_model(capsys, tmp_path):
    model_path = tmp_path / "model.json"
    code, _, _ = run(
        capsys,
        "fit",
        str(EXAMPLES / "survey.csv"),
        "-f",
        "bernoulli",
        "-k",
        "3",
        "--n-init",
        "2",
        "--seed",
        "0",
        "--out",
        str(model_path),
    )
    assert code == 0
    return model_path


def test_predict_classes_and_responsibilities_keep_the_id_column(capsys, tmp_path):
    model_path = _fit_model(capsys, tmp_path)
    import pandas as pd

    new = pd.read_csv(EXAMPLES / "survey.csv").head(5)
    new.insert(0, "id", ["a", "b", "c", "d", "e"])
    new.to_csv(tmp_path / "new.csv", index=False)
    code, out, _ = run(capsys, "predict", str(model_path), str(tmp_path / "new.csv"))
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "id,component" and lines[1].startswith("a,c_")
    model = mf.load(model_path)
    expected = [f"c_{k + 1}" for k in model.predict(new.drop(columns="id"))]
    assert [line.split(",")[1] for line in lines[1:]] == expected
    code, _, _ = run(
        capsys, "predict", str(model_path), str(tmp_path / "new.csv"), "--proba", "--out", str(tmp_path / "p.parquet")
    )
    proba = pd.read_parquet(tmp_path / "p.parquet")
    assert list(proba.columns) == ["id", "c_1", "c_2", "c_3"]
    np.testing.assert_allclose(proba[["c_1", "c_2", "c_3"]], model.predict_proba(new.drop(columns="id")))


def test_sample_from_a_model(capsys, tmp_path):
    model_path = _fit_model(capsys, tmp_path)
    code, out, _ = run(capsys, "sample", str(model_path), "-n", "2000", "--seed", "3")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0] == "q1,q2,q3,q4,q5,q6,q7,q8,component" and len(lines) == 2001
    model = mf.load(model_path)
    shares = [sum(line.endswith(f"c_{k + 1}") for line in lines[1:]) / 2000 for k in range(3)]
    np.testing.assert_allclose(shares, model.weights_, atol=0.035)


def test_explain_prints_the_seed_tables(capsys):
    code, out, _ = run(
        capsys,
        "explain",
        str(EXAMPLES / "three_coins.csv"),
        "-f",
        "binomial",
        "--trials",
        "10",
        "-k",
        "3",
        "--weights",
        "0.25,0.5,0.25",
        "--params",
        "0.4,0.5,0.65",
        "--iterations",
        "2",
    )
    assert code == 0
    for number in ("0.5674795", "2.2699180", "23.6042391", "0.3536485", "0.3337246"):
        assert number in out
    assert "iteration 2" in out


def test_fit_writes_report_and_plots(capsys, tmp_path):
    code, _, _ = run(
        capsys,
        "fit",
        str(EXAMPLES / "two_coins.csv"),
        "-f",
        "binomial",
        "--trials",
        "10",
        "-k",
        "2",
        "--seed",
        "0",
        "--report",
        str(tmp_path / "r.html"),
        "--plots",
        str(tmp_path / "figs"),
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(
        f"{n}.png" for n in ("convergence", "trajectories", "fit", "profiles", "responsibilities", "classification")
    )  # the ELBO picture is the worked examples' (mixfit demo), not a data report's
    text = (tmp_path / "r.html").read_text()
    assert "mixfit fit" in text and text.count("data:image/png") == 6


def test_demo_three_coins(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "three-coins", "--out", str(tmp_path))
    assert code == 0 and "0.3337246" in out and (tmp_path / "three-coins" / "report.html").exists()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("a;b\n0;1\n1;0\n", ["-f", "bernoulli"], "looks ';'-separated"),
        ("", ["-f", "bernoulli"], "is empty"),
        ("heads,flips\n3,10\n4,0\n", ["-f", "binomial", "--trials-column", "flips"], "must hold whole numbers >= 1"),
        ("heads,flips\n3,10\n4,\n", ["-f", "binomial", "--trials-column", "flips"], "must hold whole numbers >= 1"),
        ("heads,flips\n3,10\n4,10\n", ["-f", "binomial", "--trials-column", "flip"], "did you mean 'flips'"),
        ("q1,q2\n0,1\nyes,0\n", ["-f", "bernoulli"], "column 'q1' must be numeric"),
        ("q1\n0\n1\n", ["-f", "bernoulli", "-k", "3"], "number of rows"),
        ("q1,q2\n0,1\n1,0\n", ["-f", "bernoulli", "--columns", "q1,q3"], "columns are ['q1', 'q2']"),
    ],
)
def test_bad_files_are_one_line_and_exit_2(capsys, tmp_path, content, args, message):
    path = tmp_path / "data.csv"
    path.write_text(content)
    code, _, err = run(capsys, "fit", str(path), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_model_files(capsys, tmp_path):
    model_path = _fit_model(capsys, tmp_path)
    text = model_path.read_text()
    cases = {
        "truncated.json": (text[: len(text) // 2], "not a valid mixfit model file"),
        "version.json": (
            text.replace('"format_version": 1', '"format_version": 99'),
            "format_version must be 1; got 99",
        ),
        "shape.json": (json.dumps({**json.loads(text), "weights": [0.5, 0.5]}), "weights must have shape (3,)"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content)
        code, _, err = run(capsys, "sample", str(tmp_path / name), "-n", "3")
        assert code == 2 and message in err, name


def test_model_files_are_written_atomically(tmp_path, monkeypatch):
    import mixfit.io

    m = mf.Mixture(mf.Bernoulli(), 1).fit([[0, 1], [1, 1]])
    m.save(tmp_path / "m.json")
    before = (tmp_path / "m.json").read_text()
    original_write_text = mixfit.io.Path.write_text

    def half_then_disk_full(path, text, *args, **kwargs):
        original_write_text(path, text[: len(text) // 2], *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(mixfit.io.Path, "write_text", half_then_disk_full)
    with pytest.raises(OSError, match="disk full"):
        m.save(tmp_path / "m.json")
    assert (tmp_path / "m.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@pytest.mark.parametrize("command", ["fit", "predict", "explain", "sample", "demo"])
def test_every_command_has_help_with_an_example(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "Example: mixfit " + command in " ".join(out.split())


def test_categorical_model_round_trips_levels_through_parquet_and_json(capsys, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {"q1": ["no", "yes", "yes", "maybe"] * 30, "q2": ["a", "b", "b", "a"] * 30, "q3": [1, 2, 2, 2] * 30}
    )
    frame.to_parquet(tmp_path / "answers.parquet")
    code, _, _ = run(
        capsys,
        "fit",
        str(tmp_path / "answers.parquet"),
        "-f",
        "categorical",
        "-k",
        "2",
        "--seed",
        "0",
        "--out",
        str(tmp_path / "m.json"),
    )
    assert code == 0
    model = mf.load(tmp_path / "m.json")
    assert model.family_.levels[0].tolist() == ["maybe", "no", "yes"]
    direct = mf.Mixture(mf.Categorical(), 2, random_state=0).fit(frame)
    np.testing.assert_array_equal(model.predict_proba(frame), direct.predict_proba(frame))


# ----------------------------------------------------------------------------- conventions of the tools people know
def help_example(capsys, command):
    """The example that ``mixfit COMMAND --help`` shows, as arguments."""
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    text = " ".join(out.split())
    example = text.split("Example: mixfit ", 1)[1]
    return shlex.split(example.split(" Arguments:", 1)[0].split(" Options:", 1)[0])


def test_every_help_example_runs(capsys, tmp_path, monkeypatch):
    (tmp_path / "examples").symlink_to(EXAMPLES)
    monkeypatch.chdir(tmp_path)
    for command in ("fit", "select", "predict", "explain", "sample", "demo"):  # fit writes model.json
        args = help_example(capsys, command)
        assert args[0] == command
        code, _, err = run(capsys, *args)
        assert code == 0, (args, err)
    assert {"model.json", "criteria.png", "classes.csv", "fake.csv", "demo-output"} <= {
        p.name for p in tmp_path.iterdir()
    }


def test_version_and_flags_without_metavar(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"mixfit {mf.__version__}"
    code, out, _ = run(capsys, "fit", "--help")
    assert code == 0 and "<bool>" not in out and "--json " in out and "--version" not in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["-f", "Bernoulli", "-k", "2", "--seed", "0"], None),
        (["-f", "BERNOULLI", "-k", "2", "--seed", "0"], None),
        (["-f", "bernouli"], "--family 'bernouli' is not a family; did you mean 'bernoulli'?"),
        (["-f", "xyz"], "--family 'xyz' is not a family; use one of bernoulli, binomial"),
        (["-f", "bernoulli", "--trials", "3"], "--trials and --trials-column apply to --family binomial only"),
        (["-f", "bernoulli", "--covariance", "diag"], "--covariance and --reg-covar apply to --family gaussian"),
        (["-f", "q1,q2=bernoulli; q3 poisson"], "--family parts must look like 'q1,q2=categorical'"),
    ],
)
def test_family_names_are_case_insensitive_and_misspellings_get_a_suggestion(capsys, args, message):
    code, out, err = run(capsys, "fit", str(EXAMPLES / "survey.csv"), *args, "--json")
    if message is None:
        assert code == 0 and json.loads(out)["family"]["family"] == "bernoulli"
    else:
        assert code == 2 and err == f"error: {err[7:]}" and message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "--family binomial needs the number of trials: --trials N or --trials-column NAME"),
        (["--trials", "0"], "Invalid value for '--trials'"),
        (["--trials", "-3"], "Invalid value for '--trials'"),
    ],
)
def test_trials_are_required_for_binomial_and_must_be_positive(capsys, args, message):
    code, _, err = run(capsys, "fit", str(EXAMPLES / "three_coins.csv"), "-f", "binomial", *args)
    assert code == 2 and message in err and err.startswith("error: ") and len(err.splitlines()) == 1


def test_usage_errors_are_one_line_with_no_blank_line(capsys):
    for args in (["fit", "x.csv", "--bogus"], ["fit", "-k", "two", "x.csv", "-f", "bernoulli"], ["nosuch"]):
        code, out, err = run(capsys, *args)
        assert code == 2 and out == "" and err.startswith("error: ") and len(err.splitlines()) == 1, err


def test_an_id_column_is_never_modelled_and_drop_leaves_columns_out(capsys, tmp_path):
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    with_id = survey.assign(id=np.arange(100, 100 + len(survey)), noise=np.arange(len(survey)) % 7)[
        ["id", *survey.columns, "noise"]
    ]
    path = tmp_path / "s.csv"
    with_id.to_csv(path, index=False)
    code, out, err = run(
        capsys, "fit", str(path), "-f", "bernoulli", "-k", "2", "--seed", "0", "--drop", "noise", "--json"
    )
    assert code == 0, err
    assert "column 'id' identifies rows and is not modelled" in err
    assert list(json.loads(out)["params"]["p"]) == list(survey.columns)
    renamed = with_id.rename(columns={"id": "person"})
    renamed.to_csv(path, index=False)
    args = ["fit", str(path), "-f", "bernoulli", "-k", "2", "--seed", "0", "--id-column", "person", "--drop", "noise"]
    code, out, err = run(capsys, *args, "--json", "--out", str(tmp_path / "m.json"))
    assert code == 0, err
    assert list(json.loads(out)["params"]["p"]) == list(survey.columns)
    code, out, _ = run(capsys, "predict", str(tmp_path / "m.json"), str(path), "--id-column", "person")
    assert code == 0 and out.splitlines()[0] == "person,component" and out.splitlines()[1].startswith("100,")
    code, _, err = run(capsys, "fit", str(path), "-f", "bernoulli", "--drop", "nope")
    assert code == 2 and "column 'nope' not in" in err


def test_mixed_columns_from_the_command_line(capsys, tmp_path):
    rng = np.random.default_rng(3)
    z = rng.random(400) < 0.4
    frame = pd.DataFrame(
        {
            "q1": np.where(rng.random(400) < np.where(z, 0.9, 0.2), "yes", "no"),
            "q2": rng.choice(["a", "b", "c"], size=400),
            "age": np.where(z, rng.normal(30, 3, 400), rng.normal(60, 5, 400)),
            "visits": rng.poisson(np.where(z, 1.0, 6.0)),
        }
    )
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    spec = "q1,q2=categorical; age=Gaussian; visits=poisson"
    code, out, err = run(capsys, "fit", str(path), "-f", spec, "-k", "2", "--n-init", "3", "--seed", "0", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["family"]["family"] == "independent"
    expected = mf.Mixture(
        mf.Independent({("q1", "q2"): mf.Categorical(), "age": mf.Gaussian(), "visits": mf.Poisson()}),
        2,
        n_init=3,
        random_state=0,
    ).fit(frame)
    assert summary["log_likelihood"] == pytest.approx(expected.log_likelihood_, rel=1e-9)
    means = sorted(summary["params"]["age.mean"]["age"])
    assert means == pytest.approx([30, 60], abs=2)


def test_known_labels_column_makes_a_semi_supervised_fit(capsys, tmp_path):
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    labels = pd.Series([""] * len(survey), dtype=object)
    labels[:5] = "c_2"
    path = tmp_path / "s.csv"
    survey.assign(known=labels).to_csv(path, index=False)
    code, out, err = run(
        capsys, "fit", str(path), "-f", "bernoulli", "-k", "2", "--seed", "0", "--known-labels", "known", "--json"
    )
    assert code == 0, err
    fixed = np.full(len(survey), -1)
    fixed[:5] = 1
    expected = mf.Mixture(mf.Bernoulli(), 2, random_state=0).fit(survey, known_labels=fixed)
    assert json.loads(out)["log_likelihood"] == pytest.approx(expected.log_likelihood_, rel=1e-9)
    survey.assign(known=["7"] + [""] * (len(survey) - 1)).to_csv(path, index=False)
    code, _, err = run(capsys, "fit", str(path), "-f", "bernoulli", "-k", "2", "--known-labels", "known")
    assert code == 2 and "--known-labels values must be components 1..2 (or c_1..c_2) or empty; got '7'" in err


def test_library_hints_speak_the_command_line(capsys, tmp_path):
    path = tmp_path / "g.csv"
    pd.DataFrame({"a": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]}).to_csv(path, index=False)
    code, _, err = run(capsys, "fit", str(path), "-f", "gaussian", "-k", "2", "--seed", "0")
    assert code == 2 and "--reg-covar 1e-6" in err and "reg_covar=" not in err


def test_verbose_prints_progress_to_stdout(capsys):
    x = [6, 5, 4, 2, 2, 6, 5, 5, 4, 2, 5, 2, 4, 4, 6, 4, 5, 6, 3, 3]
    mf.Mixture(mf.Binomial(n_trials=10), 2, random_state=0, verbose=1).fit(x)
    out = capsys.readouterr().out.splitlines()
    assert out and out[0].startswith("restart 0: iteration 1, log-likelihood -")


def test_a_missing_optional_dependency_names_its_extra():
    from mixfit._optional import require

    with pytest.raises(mf.MissingDependencyError, match=r"pip install 'mixfit\[plots\]'") as info:
        require("matplotlib_that_is_not_there", "plots", "drawing figures")
    assert isinstance(info.value, ImportError) and "\n" not in str(info.value)


# ----------------------------------------------------------------------------- outputs never destroy inputs
def test_outputs_that_are_inputs_or_cannot_be_written_are_refused_before_any_work(capsys, tmp_path):
    data = tmp_path / "s.csv"
    data.write_bytes((EXAMPLES / "survey.csv").read_bytes())
    before = data.read_bytes()
    (tmp_path / "link.csv").symlink_to(data)
    (tmp_path / "hard.csv").hardlink_to(data)
    fit = ["fit", str(data), "-f", "bernoulli", "-k", "2", "--n-init", "1"]
    cases = [
        (fit + ["--out", str(data)], "--out"),
        (fit + ["--report", str(tmp_path / "link.csv")], "--report"),
        (fit + ["--out", str(tmp_path / "hard.csv")], "--out"),
        (["select", str(data), "-f", "bernoulli", "-k", "1..2", "--out", str(data)], "--out"),
    ]
    for args, option in cases:
        code, _, err = run(capsys, *args)
        assert code == 2 and f"error: {option} " in err and "is an input of this command" in err, err
    assert data.read_bytes() == before
    code, _, err = run(capsys, *fit, "--out", str(tmp_path / "missing" / "m.json"))
    assert code == 2 and "the folder" in err and "does not exist" in err
    code, _, err = run(capsys, *fit, "--out", str(tmp_path))
    assert code == 2 and "exists and is not a regular file" in err
    code, _, err = run(capsys, *fit, "--out", "/dev/null")
    assert code == 2 and "exists and is not a regular file" in err
    code, _, _ = run(capsys, *fit, "--out", str(tmp_path / "m.json"))
    assert code == 0
    code, _, err = run(capsys, "predict", str(tmp_path / "m.json"), str(data), "--out", str(tmp_path / "m.json"))
    assert code == 2 and "is an input of this command" in err and json.loads((tmp_path / "m.json").read_text())


def test_a_csv_row_with_more_fields_than_the_header_is_refused_in_memory_and_streamed(capsys, tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("a,b\n1,0,1\n0,1,0\n")
    for extra in ([], ["--chunk-size", "1"]):
        code, _, err = run(capsys, "fit", str(path), "-f", "bernoulli", "-k", "1", *extra)
        assert code == 2 and "line 2 has 3 fields; the header has 2" in err, err
    with pytest.raises(mf.DataError, match="line 2 has 3 fields; the header has 2"):
        mf.Mixture(mf.Bernoulli(), 1).fit(mf.FileTable(path))


def test_untrusted_text_reaches_the_terminal_as_literal_text(capsys, tmp_path):
    path = tmp_path / "[bold red]ALERT.csv"
    frame = pd.read_csv(EXAMPLES / "survey.csv").iloc[:, :3]
    frame.columns = ["q1\x1b[2J\x1b[31m", "[red]q2[/red]", "q3"]
    frame.to_csv(path, index=False)
    code, out, err = run(capsys, "fit", str(path), "-f", "bernoulli", "-k", "2", "--n-init", "2", "--seed", "0")
    assert code == 0, err
    assert "\x1b" not in out + err and "q1\\x1b[2J\\x1b[31m" in out and "[red]q2[/red]" in out
    code, out, err = run(capsys, "select", str(path), "-f", "bernoulli", "-k", "1..2", "--n-init", "2")
    assert code == 0 and "[bold red]ALERT.csv" in out
    code, _, err = run(capsys, "fit", str(path), "-f", "bernoulli", "--columns", "nope\x1b[2J")
    assert code == 2 and "\x1b" not in err and "nope\\x1b[2J" in err


@pytest.mark.parametrize(("example", "family", "k"), [("geyser.csv", "gaussian", "2"), ("visits.csv", "poisson", "3")])
def test_demo_fits_of_gaussian_and_poisson_examples_write_reports(capsys, tmp_path, example, family, k):
    """`make demo` fits these two bundled examples and writes their reports."""
    report = tmp_path / "report.html"
    code, _, err = run(
        capsys, "fit", str(EXAMPLES / example), "-f", family, "-k", k, "--seed", "0", "--report", str(report)
    )
    assert code == 0, err
    text = report.read_text()
    assert text.count("<figcaption>") == 6 and "Entropy R&sup2;" in text  # a data report: no ELBO picture


def test_the_init_choices_are_the_estimators():
    from mixfit.cli import InitName
    from mixfit.init import INIT_METHODS

    assert [choice.value for choice in InitName] == list(INIT_METHODS)


def test_fit_prints_class_sizes_entropy_icl_classification_and_goodness_of_fit(capsys):
    code, out, _ = run(
        capsys, "fit", str(EXAMPLES / "survey.csv"), "-f", "bernoulli", "-k", "3", "--seed", "0", "--json"
    )
    assert code == 0
    summary = json.loads(out)
    classes = summary["classes"]
    survey = pd.read_csv(EXAMPLES / "survey.csv")
    model = mf.Mixture(mf.Bernoulli(), 3, random_state=0).fit(survey)
    quality = mf.diagnostics.classification_quality(model, survey)
    assert classes["modal_size"] == [int(v) for v in quality.sizes["modal size"]] and sum(classes["modal_size"]) == 1500
    assert sum(classes["posterior_size"]) == pytest.approx(1500)
    assert classes["entropy_r2"] == pytest.approx(quality.entropy_r2, rel=1e-9)
    resp = model.predict_proba(survey)
    entropy = -(resp * np.log(resp)).sum()
    assert classes["icl"] == pytest.approx(model.bic(survey) + 2 * entropy, rel=1e-9)
    assert np.asarray(classes["classification"]).shape == (3, 3)
    assert summary["goodness_of_fit"]["patterns"] == 256  # discrete data: printed without --gof
    code, text, _ = run(capsys, "fit", str(EXAMPLES / "survey.csv"), "-f", "bernoulli", "-k", "3", "--seed", "0")
    assert "class sizes" in text and "entropy_r2" in text and "goodness of fit: X^2" in text
    assert "219.0000" not in text  # modal sizes are whole rows


def test_fit_prints_one_covariance_triangle_and_no_goodness_of_fit_for_gaussians(capsys):
    code, out, _ = run(
        capsys, "fit", str(EXAMPLES / "geyser.csv"), "-f", "gaussian", "-k", "2", "--seed", "0", "--json"
    )
    summary = json.loads(out)
    assert code == 0 and "goodness_of_fit" not in summary
    assert list(summary["params"]["covariance"]) == [
        "cov(eruption,eruption)",
        "cov(eruption,waiting)",
        "cov(waiting,waiting)",
    ]


def test_dropna_drops_rows_missing_a_modelled_column_or_covariate_and_says_how_many(capsys, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame((rng.random((200, 4)) < 0.5).astype(float), columns=["a", "b", "c", "d"])
    frame["age"] = rng.normal(size=200)
    frame.loc[[3, 9], "age"] = np.nan
    frame.loc[[9, 20], "b"] = np.nan
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    code, _, err = run(capsys, "fit", str(path), "-f", "bernoulli", "--covariates", "age", "--seed", "0")
    assert code == 2 and "(--dropna drops them)" in err
    code, out, err = run(
        capsys, "fit", str(path), "-f", "bernoulli", "--covariates", "age", "--seed", "0", "--dropna", "--json"
    )
    assert code == 0 and "dropped 3 of 200 rows" in err and json.loads(out)["n_rows"] == 197


def test_the_demo_opens_with_a_fit_that_works():
    from mixfit.demos import DEMOS

    first = next(iter(DEMOS.values()))()[0]
    assert first.name == "lca" and first.notes == [] and first.model.converged_
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "examples/survey.csv" not in makefile  # the survey is fitted once, by the lca demo


def test_se_prints_the_summary_names_with_z_p_intervals_and_noted_reasons(capsys):
    survey = str(EXAMPLES / "survey.csv")
    code, out, _ = run(capsys, "fit", survey, "-f", "bernoulli", "-k", "3", "--seed", "0", "--se", "--json")
    assert code == 0
    rows = json.loads(out)["estimates"]
    model = mf.Mixture(mf.Bernoulli(), 3, random_state=0).fit(pd.read_csv(survey))
    expected = model.summary(pd.read_csv(survey))
    assert [r["feature"] for r in rows[3:11]] == [f"q{j}" for j in range(1, 9)]
    np.testing.assert_allclose([r["se"] for r in rows[3:11]], expected["se"][3:11], rtol=1e-6)
    assert all(r["z"] == pytest.approx(r["estimate"] / r["se"]) for r in rows[3:11])
    code, text, _ = run(capsys, "fit", survey, "-f", "bernoulli", "-k", "3", "--seed", "0", "--se")
    assert "c_1 p[q1]" in text and "95% interval" in text and "p[0,0]" not in text


def test_select_gaussian_searches_covariance_models_and_prints_the_wide_table(capsys):
    """``--covariance VEV,VVV``: a table of BIC by K and model (as mclustBIC), the choice with its
    runners-up; --json names the chosen model; a misspelt model is one line and status 2."""
    path = str(EXAMPLES / "published" / "faithful.csv")
    args = ["select", path, "-f", "gaussian", "--covariance", "VEV,EEE", "-k", "2..4", "--seed", "0", "--n-init", "4"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("gaussian mixtures on faithful.csv: BIC chooses EEE, K = 3 (runners-up: ")
    assert lines[1].split() == ["VEV", "EEE"] and [line.split()[0] for line in lines[3:6]] == ["2", "3", "4"]
    code, out, _ = run(capsys, *args, "--json")
    doc = json.loads(out)
    assert (doc["covariance"], doc["chosen"], len(doc["table"])) == ("EEE", 3, 6)
    code, out, err = run(capsys, "select", path, "-f", "gaussian", "--covariance", "VEV,XYZ", "-k", "2")
    assert code == 2 and "covariance must be one of" in err and "'XYZ'" in err and len(err.splitlines()) == 1
    code, out, err = run(capsys, "fit", path, "-f", "gaussian", "--covariance", "VEV,EEE", "-k", "2")
    assert code == 2 and "lists several covariance models" in err
