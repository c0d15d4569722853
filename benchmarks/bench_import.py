"""Start-up cost: `import mixfit` and `mixfit --help` in fresh processes, beside a bare interpreter.

Targets (issue 13, on the 2-core machine): `import mixfit` under 0.3 s and `mixfit --help` under
0.8 s. Each command runs in a new process ``--repeats`` times, the runs taking turns; the table
gives the median and the fastest. ``python -X importtime`` then shows the slowest modules that
`import mixfit` and `import mixfit.cli` load, so a regression names its cause.

    python benchmarks/bench_import.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import numpy": [sys.executable, "-c", "import numpy"],
    "import mixfit": [sys.executable, "-c", "import mixfit"],
    "mixfit --help": [sys.executable, "-m", "mixfit", "--help"],
    "import mixfit; mixfit.Mixture": [sys.executable, "-c", "import mixfit; mixfit.Mixture"],
}
TARGETS = {"import mixfit": 0.3, "mixfit --help": 0.8}


def seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def slowest_imports(statement: str, n: int = 8) -> list[tuple[float, str]]:
    """The ``n`` modules with the largest cumulative import time under ``-X importtime``."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():  # warm the file cache once
        seconds(command)
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            times[name].append(seconds(command))
    print(f"{'command':32} {'median s':>9} {'fastest s':>9} {'target s':>9}  verdict")
    for name, values in times.items():
        target = TARGETS.get(name)
        median = statistics.median(values)
        verdict = "" if target is None else ("met" if median < target else "MISSED")
        shown = "" if target is None else f"{target:.1f}"
        print(f"{name:32} {median:9.3f} {min(values):9.3f} {shown:>9}  {verdict}")
    for statement in ("import mixfit", "import mixfit.cli"):
        print(f"\nslowest modules under `{statement}` (cumulative s):")
        for cumulative, module in slowest_imports(statement):
            print(f"  {cumulative:7.3f}  {module}")


if __name__ == "__main__":
    main()
