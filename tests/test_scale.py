"""Data larger than memory: files streamed chunk by chunk, Dask clusters, online EM.

Every source gives the in-memory answer: the same data and start give the same parameters to
1e-10 and the same number of iterations.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import mixfit as mf
from mixfit.cli import main
from tests.conftest import SUM_RTOL

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")

D = 6


@pytest.fixture(scope="module")
def binary():
    """20,000 rows of 6 binary items from two classes, and a fixed start."""
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 20_000)
    X = (rng.random((20_000, D)) < np.where(labels[:, None] == 0, 0.2, 0.7)).astype(np.int64)
    start = {"weights_init": [0.5, 0.5], "params_init": {"p": rng.uniform(0.3, 0.6, (2, D))}}
    return X, start


def fit(X, start, **options):
    return mf.Mixture("bernoulli", 2, tol=1e-12, max_iter=500, **start, **options).fit(X)


def write(X, path):
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    if path.suffix == ".npy":
        np.save(path, X)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, row_group_size=3000)
    else:
        frame.to_csv(path, index=False)
    return path


def assert_same_fit(model, reference):
    assert model.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(model.params_["p"], reference.params_["p"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.weights_, reference.weights_, rtol=0, atol=1e-10)
    # sums of n terms added in another order (chunks, threads): exact to n * eps ~ 1e-11 relative
    assert model.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=SUM_RTOL)


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".csv"])
def test_streamed_file_gives_the_in_memory_fit(binary, tmp_path, suffix):
    X, start = binary
    reference = fit(X, start, compress=False)
    table = mf.FileTable(write(X, tmp_path / f"x{suffix}"), chunk_rows=997)
    model = fit(table, start)
    assert_same_fit(model, reference)
    assert reference.n_iter_ > 20  # a real fit, not one step
    np.testing.assert_array_equal(model.predict(table), reference.predict(X))
    assert model.score(table) == pytest.approx(reference.score(X), rel=SUM_RTOL)
    assert model.bic(table) == pytest.approx(reference.bic(X), rel=SUM_RTOL)


def test_dask_array_and_dataframe_give_the_in_memory_fit(binary):
    X, start = binary
    reference = fit(X, start, compress=False)
    assert_same_fit(fit(da.from_array(X, chunks=(1500, D)), start), reference)
    frame = dd.from_pandas(pd.DataFrame(X, columns=[f"x{j}" for j in range(D)]), npartitions=7)
    model = fit(frame, start)
    assert_same_fit(model, reference)
    assert list(model.feature_names_in_) == [f"x{j}" for j in range(D)]


@pytest.mark.slow
def test_two_worker_cluster_survives_a_killed_worker(binary):
    """A LocalCluster of two worker processes on loopback; one is killed (SIGKILL) mid-fit."""
    distributed = pytest.importorskip("distributed")
    X, start = binary
    reference = fit(X, start, compress=False)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        rows = da.from_array(X, chunks=(2000, D)).persist()  # partitions live on both workers
        assert_same_fit(fit(rows, start), reference)
        killed = []

        def kill_one_worker(restart, iteration, log_likelihood):
            if iteration == 5 and not killed:
                address, pid = sorted(client.run(os.getpid).items())[0]
                held = client.has_what()[address]
                os.kill(pid, signal.SIGKILL)
                killed.append((address, len(held)))

        model = mf.Mixture("bernoulli", 2, tol=1e-12, max_iter=500, **start).fit(rows, on_iteration=kill_one_worker)
        assert killed and killed[0][1] > 0  # the killed worker held partitions, which Dask recomputed
        assert_same_fit(model, reference)


def test_worker_without_mixfit_is_a_clear_error():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=0, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        code = (
            "import sys; sys.modules['mixfit'] = None; from distributed.cli.dask_worker import main; "
            f"sys.argv = ['dask-worker', '{cluster.scheduler_address}', '--no-nanny', '--nthreads', '1']; main()"
        )
        worker = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=60)
            with pytest.raises(mf.ClusterError, match="workers cannot import mixfit.*install mixfit on every worker"):
                mf.Mixture("bernoulli", 2).fit(da.from_array(np.eye(4, dtype=int).repeat(10, 0), chunks=(10, 4)))
        finally:
            worker.kill()
            worker.wait()


def test_category_level_only_in_the_last_chunk(tmp_path):
    rng = np.random.default_rng(3)
    answers = rng.choice(["no", "yes"], size=(3000, 3)).astype(object)
    answers[-1, 2] = "unsure"  # the only row with this level, in the last chunk
    frame = pd.DataFrame(answers, columns=["a", "b", "c"])
    frame.to_csv(tmp_path / "answers.csv", index=False)
    start = {"weights_init": [0.4, 0.6], "n_init": 1, "max_iter": 30}  # the levels are the point, not the maximum
    reference = mf.Mixture(mf.Categorical(), 2, random_state=0, **start).fit(frame)
    streamed = mf.Mixture(mf.Categorical(), 2, random_state=0, **start)
    streamed.fit(mf.FileTable(tmp_path / "answers.csv", chunk_rows=500))
    assert streamed.family_.levels[2].tolist() == ["no", "unsure", "yes"] == reference.family_.levels[2].tolist()
    on_dask = mf.Mixture(mf.Categorical(), 2, random_state=0, **start).fit(dd.from_pandas(frame, npartitions=4))
    assert on_dask.family_.levels[2].tolist() == ["no", "unsure", "yes"]
    assert streamed.log_likelihood_ == pytest.approx(on_dask.log_likelihood_, rel=1e-10)


def test_file_changed_during_the_fit_stops_it(binary, tmp_path):
    X, start = binary
    path = write(X, tmp_path / "x.npy")

    def rewrite(restart, iteration, log_likelihood):
        if iteration == 3:
            np.save(path, X[:-1])

    with pytest.raises(mf.DataError, match="changed during the fit; fit again"):
        mf.Mixture("bernoulli", 2, tol=1e-12, **start).fit(mf.FileTable(path, chunk_rows=4000), on_iteration=rewrite)


def test_csv_chunk_with_an_extra_column_is_refused(binary, tmp_path):
    X, start = binary
    path = write(X[:3000], tmp_path / "x.csv")
    with open(path, "a") as file:
        file.write("1,0,1,0,1,0,1\n")  # one field more than the header, in the last chunk
    with pytest.raises(mf.DataError, match=r"cannot read .*Expected 6 fields in line 3002, saw 7"):
        fit(mf.FileTable(path, chunk_rows=1000), start)


def test_dask_partition_with_other_columns_is_refused():
    import dask

    good = pd.DataFrame({"a": [0, 1] * 10, "b": [1, 0] * 10})
    bad = pd.DataFrame({"a": [0, 1] * 10, "c": [1, 0] * 10})
    frame = dd.from_delayed([dask.delayed(good), dask.delayed(bad)], meta=good.iloc[:0], verify_meta=False)
    with pytest.raises(
        mf.DataError, match=r"a partition has columns \['a', 'c'\], but the data's columns are \['a', 'b'\]"
    ):
        mf.Mixture("bernoulli", 2, random_state=0).fit(frame)


def test_sample_weight_with_streamed_data_is_refused(binary, tmp_path):
    X, start = binary
    table = mf.FileTable(write(X, tmp_path / "x.npy"))
    with pytest.raises(mf.DataError, match="sample_weight is not supported for data read pass by pass"):
        mf.Mixture("bernoulli", 2).fit(table, sample_weight=np.ones(len(X)))


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak RSS from /proc (Linux)")
def test_peak_memory_does_not_grow_with_the_file(tmp_path):
    """Fitting a file 8x larger by streaming takes no more memory (peak RSS of a fresh process).

    The peak is VmHWM: on Linux, getrusage's ru_maxrss of a child carries the parent's peak
    across fork and exec, so it would measure pytest rather than the fit.
    """
    script = textwrap.dedent(
        """
        import sys, warnings
        import mixfit as mf
        warnings.simplefilter("ignore")
        table = mf.FileTable(sys.argv[1], chunk_rows=20_000)
        mf.Mixture("bernoulli", 3, max_iter=4, random_state=0).fit(table)
        status = open("/proc/self/status").read()
        print(int(status.split("VmHWM:")[1].split()[0]) * 1024)
        """
    )
    rng = np.random.default_rng(0)
    peaks = {}
    for rows in (100_000, 800_000):
        path = tmp_path / f"x{rows}.npy"
        np.save(path, (rng.random((rows, 20)) < 0.3).astype(np.uint8))
        done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
        peaks[rows] = int(done.stdout.split()[-1])
    in_memory_design = 800_000 * 20 * 8  # what the large file's rows take as float64: 128 MB
    assert peaks[800_000] - peaks[100_000] < 0.1 * in_memory_design, peaks


def test_first_partial_fit_is_one_em_step():
    x = [6, 5, 4, 2, 2, 6, 5, 5, 4, 2, 5, 2, 4, 4, 6, 4, 5, 6, 3, 3]
    start = {"weights_init": [0.25, 0.5, 0.25], "params_init": {"p": [0.4, 0.5, 0.65]}}
    one_step = mf.Mixture(mf.Binomial(n_trials=10), 3, max_iter=1, **start)
    with pytest.warns(mf.ConvergenceWarning):
        one_step.fit(x)
    online = mf.Mixture(mf.Binomial(n_trials=10), 3, **start).partial_fit(x)
    np.testing.assert_allclose(online.weights_, one_step.weights_, rtol=1e-13)
    np.testing.assert_allclose(online.params_["p"], one_step.params_["p"], rtol=1e-13)
    assert online.online_history_["step_size"].tolist() == [1.0]
    assert not hasattr(online, "log_likelihood_")


def test_partial_fit_reaches_the_batch_mle_in_one_pass():
    """One pass of stepwise EM over 400,000 rows in batches of 2,000 ends within 1e-3 of the MLE."""
    rng = np.random.default_rng(5)
    p = np.where(rng.random((3, 10)) < 0.5, 0.2, 0.8)
    labels = rng.choice(3, size=400_000, p=[0.5, 0.3, 0.2])
    X = (rng.random((400_000, 10)) < p[labels]).astype(np.uint8)
    batch = mf.Mixture("bernoulli", 3, n_init=5, random_state=0).fit(X)
    for seed in range(3):
        online = mf.Mixture("bernoulli", 3, n_init=3, random_state=seed)
        for start in range(0, len(X), 2000):
            online.partial_fit(X[start : start + 2000])
        assert online.n_updates_ == 200 and online.n_rows_seen_ == 400_000
        gap = batch.score(X) - online.score(X)
        assert 0 <= gap < 1e-3, (seed, gap)
        assert online.online_history_["step_size"].iloc[-1] == pytest.approx(200**-0.6)


def test_partial_fit_refuses_a_level_unseen_in_the_first_batch():
    model = mf.Mixture(mf.Categorical(), 2, random_state=0).partial_fit([["a"], ["b"], ["a"], ["b"]])
    with pytest.raises(mf.DataError, match="has level 'c' not seen at fit; known levels are \\['a', 'b'\\]"):
        model.partial_fit([["a"], ["c"]])
    known = mf.Mixture(mf.Categorical(levels=[["a", "b", "c"]]), 2, random_state=0).partial_fit([["a"], ["b"]] * 2)
    known.partial_fit([["a"], ["c"]])
    assert known.n_updates_ == 2


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.slow
def test_cli_chunk_size_and_dask_workers_match_in_memory(binary, tmp_path, capsys):
    X, _ = binary
    path = write(X, tmp_path / "x.csv")
    base = ["fit", str(path), "-f", "bernoulli", "-k", "2", "--seed", "0", "--tol", "1e-12", "--json"]
    results = {}
    for name, extra in {"memory": [], "chunks": ["--chunk-size", "1500"], "dask": ["--dask-workers", "2"]}.items():
        code, out, err = run(capsys, *base, *extra, "--out", str(tmp_path / f"{name}.json"))
        assert code == 0, err
        results[name] = json.loads(out)
    for name in ("chunks", "dask"):
        assert results[name]["n_iter"] == results["memory"]["n_iter"]
        np.testing.assert_allclose(results[name]["weights"], results["memory"]["weights"], atol=1e-10)
        assert results[name]["bic"] == pytest.approx(results["memory"]["bic"], rel=SUM_RTOL)


def test_cli_bad_chunk_leaves_no_model_file(binary, tmp_path, capsys):
    X, _ = binary
    path = write(X[:3000], tmp_path / "x.csv")
    with open(path, "a") as file:
        file.write("1,0,1,0,1,0,1\n")
    code, _, err = run(
        capsys, "fit", str(path), "-f", "bernoulli", "--chunk-size", "1000", "--out", str(tmp_path / "m.json")
    )
    assert code == 2 and "Expected 6 fields in line 3002, saw 7" in err and "Traceback" not in err
    assert not (tmp_path / "m.json").exists()
    code, _, err = run(
        capsys, "fit", str(path), "-f", "bernoulli", "--chunk-size", "1000", "--report", str(tmp_path / "r.html")
    )
    assert (
        code == 2
        and "--report, --plots, --se, --gof, --known-labels and --weight-column need the data in memory" in err
    )


@pytest.mark.parametrize("out_name", ["classes.csv", "classes.parquet"])
def test_cli_predict_in_chunks_writes_what_predict_in_memory_writes(binary, tmp_path, capsys, out_name):
    X, _ = binary
    path = write(X[:5000], tmp_path / "x.csv")
    code, _, err = run(capsys, "fit", str(path), "-f", "bernoulli", "--seed", "0", "--out", str(tmp_path / "m.json"))
    assert code == 0, err
    outputs = {}
    for name, extra in {"memory": [], "chunks": ["--chunk-size", "999"]}.items():
        target = tmp_path / f"{name}-{out_name}"
        code, _, err = run(
            capsys, "predict", str(tmp_path / "m.json"), str(path), "--proba", "--out", str(target), *extra
        )
        assert code == 0, err
        outputs[name] = pd.read_parquet(target) if target.suffix == ".parquet" else pd.read_csv(target)
    assert outputs["chunks"]["row"].tolist() == list(range(5000))
    # responsibilities are probabilities, some tiny: compared absolutely (CSV keeps 17 digits)
    pd.testing.assert_frame_equal(outputs["chunks"], outputs["memory"], check_exact=False, rtol=0, atol=1e-12)
