"""Hostile input, round three: files a fit must not destroy, markup in names, inputs matched by
name, overflow, damaged caches, and work bounded by the data's size. Each case is listed in
docs/errors.md."""

from __future__ import annotations

import json

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
