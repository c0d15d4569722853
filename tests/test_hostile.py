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
