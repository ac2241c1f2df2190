"""Two code trees protect one year's public release at the same time: their CPU compared.

This machine's speed drifts: the same code took 14.8-21 s within minutes, and a release's CPU
24-32 s from one sitting to the next. Runs of old and new code one after the other compare
sittings as much as code. Here each pair runs both trees at once, one release each (as
`bench_release.py` protects and audits it, with ``--workers`` processes each), so both meet
the same conditions, and compares their CPU seconds (each run's process and its worker
processes); the first to start alternates from pair to pair. Wall times are printed too, but
both runs share the cores: only the CPU compares. Each run's statuses are hashed: a change
meant to be faster only should show the same statuses in both columns.

    python benchmarks/ab_release.py --db X.duckdb --year 2023-24 --old TREE --new TREE

A tree is a checkout holding ``privacy/`` and ``benchmarks/bench_release.py`` (e.g. ``git
worktree add /tmp/old <commit>``). Each run starts in an empty folder with its tree first on
its path, so that it and its worker processes import that tree's code only (Python 3.11's
fork server would take the code of the folder it starts in).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def _child(tree: Path, db: Path, year: str, workers: int) -> dict:
    """One release protected and audited by ``tree``'s code: CPU, wall, statuses' hash.

    Only `bench_release.protect_and_audit` is taken from the tree's benchmarks (an older
    tree has no newer helper), so the release's requests are laid out here as its ``main``
    lays them out."""
    sys.path[:0] = [str(tree), str(tree / "benchmarks")]
    import privacy
    import privacy.release as release
    from privacy.catalogue import public_catalogue

    found = Path(privacy.__file__).resolve().parent
    if found != (tree / "privacy").resolve():
        raise SystemExit(f"imported privacy from {found}, not from {tree}")
    from bench_release import protect_and_audit

    snap = release._snapshot(db)
    if year not in snap.years:
        raise SystemExit(f"unknown school year {year!r}; the warehouse holds {list(snap.years)}")
    for population in ("enrollment", "assessment", "graduation"):
        snap.fact(population, year)
    catalogue = [e.request for e in public_catalogue(year) if e.request.measure != "staff"]
    protected: dict = {}
    original = release._protect_top_down

    def keep(*args: object, **kwargs: object) -> object:
        protected["result"] = original(*args, **kwargs)
        return protected["result"]

    release._protect_top_down = keep  # protect_and_audit looks it up when it runs
    info = protect_and_audit(snap, catalogue, year, workers)
    statuses = protected["result"].statuses
    text = "".join(f"{key}={status}\n" for key, status in statuses.items())
    return {
        "cpu": info["cpu_s"],
        "wall": info["wall_s"],
        "hidden": info["hidden"],
        "violations": info["violations"],
        "statuses": hashlib.md5(text.encode()).hexdigest()[:12],
    }


def _pair(trees: list[Path], db: Path, year: str, workers: int) -> list[dict]:
    """Both trees' runs started at once, in the order given; their results in that order
    (both are waited for, even where one fails: no run is left behind)."""
    with tempfile.TemporaryDirectory(prefix="ab_release_") as scratch:
        runs = []
        for number, tree in enumerate(trees):
            folder = Path(scratch) / str(number)  # empty: nothing in it shadows the tree
            folder.mkdir()
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(tree)]
            cmd += ["--db", str(db), "--year", year, "--workers", str(workers)]
            env = {**os.environ, "PYTHONPATH": str(tree)}
            runs.append(
                subprocess.Popen(
                    cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
            )
        answers = [run.communicate() for run in runs]
    out = []
    for tree, run, (stdout, stderr) in zip(trees, runs, answers, strict=True):
        lines = stdout.decode().strip().splitlines()
        if run.returncode != 0 or not lines:
            reason = (stderr.decode().strip().splitlines() or ["no output"])[-1]
            raise SystemExit(f"ab_release: the run of {tree} failed: {reason}")
        out.append(json.loads(lines[-1]))
    return out


def _tree(parser: argparse.ArgumentParser, path: Path) -> Path:
    if not (path / "privacy").is_dir() or not (path / "benchmarks" / "bench_release.py").exists():
        parser.error(f"{path} is not a checkout of edudash (no privacy/ or bench_release.py)")
    return path.resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a warehouse file (read only)")
    parser.add_argument("--year", default="2023-24")
    parser.add_argument("--old", type=Path, help="the tree to compare against")
    parser.add_argument("--new", type=Path, help="the tree under test")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="processes of each run")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(args.child, args.db, args.year, args.workers)))
        return
    if args.old is None or args.new is None:
        parser.error("--old and --new are both needed")
    if args.pairs < 1 or args.workers < 1:
        parser.error("--pairs and --workers take a whole number of at least 1")
    if not args.db.is_file():
        parser.error(f"no warehouse at {args.db}; build one with `edudash build --db {args.db}`")
    old, new = _tree(parser, args.old), _tree(parser, args.new)
    db = args.db.resolve()
    header = (
        f"{'pair':>4} {'first':>5} {'old cpu s':>10} {'new cpu s':>10} {'new/old':>8} "
        f"{'old wall s':>11} {'new wall s':>11} {'hidden':>13} {'viol':>9} {'statuses':>27}"
    )
    ratios = []
    same = True
    for number in range(args.pairs):
        first_new = number % 2 == 1
        runs = _pair([new, old] if first_new else [old, new], db, args.year, args.workers)
        if number == 0:  # after the first pair: a failure is its one line alone
            print(f"{args.year}, {args.workers} worker(s) per run; old {old}; new {new}")
            print(header)
            print("-" * len(header))
        b, a = runs if first_new else runs[::-1]  # a: old, b: new
        ratios.append(b["cpu"] / a["cpu"])
        same &= a["statuses"] == b["statuses"]
        print(
            f"{number + 1:>4} {'new' if first_new else 'old':>5} {a['cpu']:>10.2f} "
            f"{b['cpu']:>10.2f} {ratios[-1]:>8.3f} {a['wall']:>11.2f} {b['wall']:>11.2f} "
            f"{a['hidden']:>6}/{b['hidden']:<6} {a['violations']:>4}/{b['violations']:<4} "
            f"{a['statuses'] + '/' + b['statuses']:>27}"
        )
    print(
        f"median new/old CPU {statistics.median(ratios):.3f} over {len(ratios)} pair(s); "
        f"statuses {'the same' if same else 'DIFFERENT'} in every pair"
    )


if __name__ == "__main__":
    main()
