"""Every code block of the docs runs: python blocks in order per page, console lines via the CLI."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import matplotlib
import pytest

from mixfit.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"```(python|console)\n(.*?)```", re.S)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    matplotlib.use("Agg")
    return tmp_path


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_code_blocks_run(page, workdir):
    namespace: dict = {}
    blocks = BLOCK.findall(page.read_text())
    for kind, code in blocks:
        if kind == "python":
            exec(compile(code, f"{page.name}", "exec"), namespace)
            continue
        for line in code.splitlines():
            if line.startswith("$ mixfit "):
                with pytest.raises(SystemExit) as done:
                    main(shlex.split(line[len("$ mixfit ") :]))
                assert done.value.code == 0, line


SEED_JARGON = re.compile(r"seeds? ?00[0-2]", re.I)


def test_the_source_texts_are_cited_by_their_keys_never_as_seeds():
    """Readers see CV21, Ch6 and Sciarra (docs/references.md), in the package, the docs, the README
    and a generated report, never the internal name "seed 00x"."""
    from mixfit.demos import DEMOS
    from mixfit.report import render

    files = [*ROOT.joinpath("src").rglob("*.py"), *ROOT.joinpath("src").rglob("*.j2"), *PAGES]
    assert [str(f) for f in files if SEED_JARGON.search(f.read_text())] == []
    case = DEMOS["three-coins"]()[0]
    page = render(case.model, case.data, command="mixfit demo three-coins")
    assert not SEED_JARGON.search(page) and "Table 6.1 of the textbook chapter" in page
    references = (ROOT / "docs" / "references.md").read_text()
    assert all(key in references for key in ("**CV21**", "**Ch6**", "**Sciarra**"))
