"""The command line: tables, JSON, model files, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert sorted(summary["weights"]) == pytest.approx([0.19, 0.29, 0.52], abs=0.02)
    assert summary["converged"] and summary["n_parameters"] == 3 * 8 + 2
    model = mf.load(model_path)
    assert model.log_likelihood_ == summary["log_likelihood"]
    np.testing.assert_array_equal(model.weights_, summary["weights"])  # exact float round-trip
    import pandas as pd

    frame = pd.read_csv(EXAMPLES / "survey.csv")
    assert model.score_samples(frame).sum() == pytest.approx(summary["log_likelihood"], rel=1e-12)


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
