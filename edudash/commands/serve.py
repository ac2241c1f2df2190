"""`edudash serve`: run the Streamlit dashboard (building the default warehouse if none exists)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from warehouse.build import build_warehouse
from warehouse.connection import ENV_VAR, resolve_db_path

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
# The warehouse `serve` builds when none exists: a small synthetic sample, because protecting a
# Maine-sized public release (complementary suppression audited by integer programming) still
# takes far too long for a first start; `edudash build` makes the full scale-1 warehouse.
DEMO_SCALE = 0.01


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the dashboard (builds the warehouse first if missing)")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--address", default="localhost", help="address to bind (default localhost)")
    p.add_argument(
        "--scale",
        type=float,
        default=DEMO_SCALE,
        help=f"scale of the warehouse built when none exists (default {DEMO_SCALE})",
    )
    p.add_argument(
        "--released-only",
        action="store_true",
        help="serve at once with the years whose public release is recorded; "
        "protect none (the dashboard offers only those years)",
    )
    p.set_defaults(func=run)


def prepare_public_releases(path: Path) -> None:
    """Protect and record each year's missing public release, before the first visitor asks."""
    from privacy import parallel
    from privacy.release import public_release, published_years, release_years

    done = set(published_years(path))
    for year in release_years(path):
        if year in done:
            continue
        started = time.perf_counter()
        print(f"  protecting the public release of {year} ...", end="", flush=True)
        public_release(path, year, workers=parallel.cores())
        print(f" {time.perf_counter() - started:.0f} s", flush=True)


def run(args: argparse.Namespace) -> int:
    path = resolve_db_path(args.db)
    if not APP.is_file():
        raise FileNotFoundError(f"dashboard app not found at {APP}")
    if not path.is_file():
        if not 0 < args.scale <= 50:
            raise ValueError(f"--scale must be greater than 0 and at most 50, got {args.scale}")
        print(
            f"No warehouse at {path}; building synthetic Maine at scale {args.scale} "
            "and its public releases (first start only) ...",
            flush=True,
        )
        build_warehouse(path, scale=args.scale)
    if not args.released_only:
        # years released before are read back in a moment; a Maine-sized year takes long
        prepare_public_releases(path)
    env = dict(os.environ, **{ENV_VAR: str(path.resolve())})
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    print(
        f"Serving the dashboard on http://{args.address}:{args.port} (warehouse {path})", flush=True
    )
    # this process becomes the server: a stop signal (a service manager's SIGTERM) reaches it,
    # instead of ending a parent and leaving a server behind that holds the port
    os.execve(sys.executable, cmd, env)
    return 0  # not reached: execve replaces this process, or raises OSError
