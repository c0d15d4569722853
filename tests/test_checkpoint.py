"""No lost work: checkpoints, resuming after a kill, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import mixfit as mf
from tests.conftest import interrupted_fit, latent_class_data


@pytest.fixture
def survey(rng):
    X, _ = latent_class_data(rng, 3000, rng.uniform(0.1, 0.9, (3, 10)), np.array([0.5, 0.3, 0.2]))
    return X


@pytest.mark.slow
@pytest.mark.parametrize("accelerate", [None, "squarem"])
def test_resume_from_any_checkpoint_ends_where_an_uninterrupted_fit_ends(survey, tmp_path, monkeypatch, accelerate):
    import mixfit.checkpoint

    options = dict(n_init=3, random_state=4, init="random", tol=1e-10, accelerate=accelerate)
    whole = mf.Mixture(mf.Bernoulli(), 3, **options).fit(survey)
    saved = []
    real_save = mixfit.checkpoint.Checkpointer.save

    def save_and_stop(self, restart, iteration, *args):
        real_save(self, restart, iteration, *args)
        if restart == 1 and iteration == 7:
            saved.append(self.path.read_text())
            raise KeyboardInterrupt

    monkeypatch.setattr(mixfit.checkpoint.Checkpointer, "save", save_and_stop)
    path = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        mf.Mixture(mf.Bernoulli(), 3, checkpoint=path, checkpoint_every=1, **options).fit(survey)
    monkeypatch.setattr(mixfit.checkpoint.Checkpointer, "save", real_save)
    doc = json.loads(saved[0])
    assert doc["restart"] == 1 and doc["iteration"] == 7 and doc["best"] is not None
    resumed = mf.Mixture(mf.Bernoulli(), 3, checkpoint=path, checkpoint_every=1, **options).fit(survey, resume=True)
    np.testing.assert_array_equal(resumed.params_["p"], whole.params_["p"])
    assert resumed.log_likelihood_ == whole.log_likelihood_ and resumed.n_iter_ == whole.n_iter_
    assert resumed.history_.equals(whole.history_)
    assert not path.exists()  # removed once the fit finishes


def test_a_checkpoint_of_other_data_is_refused(survey, tmp_path):
    path = tmp_path / "fit.ckpt"
    m = mf.Mixture(mf.Bernoulli(), 2, checkpoint=path, checkpoint_every=1, max_iter=2, random_state=0)
    with pytest.warns(mf.ConvergenceWarning):
        m.fit(survey)
    path.write_text(json.dumps({"format": "mixfit-checkpoint", "format_version": 1, "fingerprint": "x"}))
    with pytest.raises(mf.ModelError, match="belongs to another fit"):
        m.fit(survey, resume=True)
    path.unlink()
    with pytest.raises(mf.ModelError, match="no checkpoint to resume"):
        m.fit(survey, resume=True)


def test_a_streamed_file_edited_in_place_is_another_fit(tmp_path):
    # same size, modification time restored: only the content tells the files apart
    path = tmp_path / "d.csv"
    rows = np.random.default_rng(0).integers(0, 2, (300, 5))
    np.savetxt(path, rows, fmt="%d", delimiter=",", header="a,b,c,d,e", comments="")
    ckpt = tmp_path / "fit.ckpt"
    m = mf.Mixture(mf.Bernoulli(), 2, checkpoint=ckpt, checkpoint_every=1, random_state=0, n_init=1)

    def interrupt(restart, iteration, log_likelihood):
        if iteration == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        m.fit(mf.FileTable(path, chunk_rows=100), on_iteration=interrupt)
    assert ckpt.exists()
    stat = path.stat()
    text = path.read_text()
    last = text.rstrip("\n")[-1]
    path.write_text(text.rstrip("\n")[:-1] + ("1" if last == "0" else "0") + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(mf.ModelError, match="belongs to another fit"):
        m.fit(mf.FileTable(path, chunk_rows=100), resume=True)


def _fit_command(data, checkpoint, *extra):
    return [
        sys.executable,
        "-m",
        "mixfit",
        "fit",
        str(data),
        "-f",
        "bernoulli",
        "-k",
        "5",
        "--seed",
        "1",
        "--tol",
        "1e-13",
        "--max-iter",
        "150",
        "--json",
        "--checkpoint",
        str(checkpoint),
        "--checkpoint-every",
        "1",
        "--accelerate",
        "none",  # textbook EM: 150 iterations, long enough to be killed half-way
        *extra,
    ]


def _wait_for_checkpoint(path, process, iteration=5, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the fit ended before it could be interrupted: {process.stderr.read()}")
        try:
            if json.loads(path.read_text())["iteration"] >= iteration:
                return
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    pytest.fail("no checkpoint appeared")


@pytest.fixture
def big_file(tmp_path, rng):
    """Overlapping classes: EM needs well over 150 iterations, a few seconds in all."""
    X, _ = latent_class_data(rng, 200_000, rng.uniform(0.3, 0.7, (5, 24)), np.array([0.3, 0.25, 0.2, 0.15, 0.1]))
    path = tmp_path / "big.npy"
    np.save(path, X)
    return path


@pytest.mark.slow
def test_killed_fit_resumes_to_the_same_result(big_file, tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    reference = subprocess.run(_fit_command(big_file, tmp_path / "ref.ckpt"), capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr
    expected = json.loads(reference.stdout)
    assert expected["n_iter"] == 150  # long enough to be killed half-way
    process = subprocess.Popen(
        _fit_command(big_file, checkpoint), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for_checkpoint(checkpoint, process, iteration=20)
    process.kill()
    process.wait()
    assert json.loads(checkpoint.read_text())["iteration"] < expected["n_iter"]
    resumed = subprocess.run(_fit_command(big_file, checkpoint, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    got = json.loads(resumed.stdout)
    for key in ("weights", "params", "log_likelihood", "n_iter", "converged"):
        assert got[key] == expected[key], key


def test_ctrl_c_exits_130_and_says_where_the_checkpoint_is(big_file, tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    # The child takes Ctrl-C's default action even when the test runs where SIGINT is ignored
    # (a job started in the background by a shell): Python then keeps ignoring it, and the fit
    # ran to its end with exit status 0.
    process = subprocess.Popen(
        _fit_command(big_file, checkpoint),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_for_checkpoint(checkpoint, process, iteration=2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert f"the last checkpoint is in {checkpoint}" in " ".join(err.split()) and "Traceback" not in err


def _checkpoint_of(survey, tmp_path):
    """A real checkpoint of an interrupted fit (iteration 3 of restart 0), and its model."""
    return interrupted_fit(survey, tmp_path / "fit.ckpt", stop_at=3)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["state"].update(weights=[float("nan"), 0.5]), "checkpoint weights must be finite"),
        (lambda d: d["state"].update(weights=[-0.5, 1.5]), r"checkpoint weights must lie in \[0, 1\]"),
        (lambda d: d["state"]["params"].update(p=[[1.5] * 10, [0.5] * 10]), r"p.*\[0, 1\]|probabilit"),
        (lambda d: d["state"]["params"].update(p=[[0.5] * 3]), "shape"),
        (lambda d: d.update(restart=5), "restart 5 does not exist"),
        (lambda d: d.update(iteration=10**9), "beyond max_iter"),
        (lambda d: d.update(iteration="7"), "not a valid checkpoint: bad or missing field"),
        (lambda d: d.pop("state"), "not a valid checkpoint: bad or missing field"),
    ],
    ids=["nan-weights", "negative-weights", "p-outside", "p-shape", "restart", "iteration", "type", "missing"],
)
def test_a_hostile_checkpoint_is_refused_in_one_line(survey, tmp_path, mutate, message):
    path, model = _checkpoint_of(survey, tmp_path)
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(mf.ModelError, match=message):
        model.fit(survey, resume=True)


def test_special_files_are_refused_as_model_files_and_checkpoints(tmp_path, survey):
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(mf.ModelError, match="is not a regular file"):
        mf.load(fifo)  # would block forever reading a FIFO nobody writes
    with pytest.raises(mf.ModelError, match="is not a regular file"):
        mf.load(tmp_path)
    model = mf.Mixture(mf.Bernoulli(), 2, checkpoint=fifo, random_state=0)
    with pytest.raises(mf.ModelError, match="checkpoint .* is not a regular file"):
        model.fit(survey, resume=True)
