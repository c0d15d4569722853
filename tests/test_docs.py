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
