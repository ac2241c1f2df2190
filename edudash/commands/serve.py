"""`edudash serve`: run the Streamlit dashboard (building the default warehouse if none exists)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from warehouse.build import build_warehouse
from warehouse.connection import ENV_VAR, resolve_db_path

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the dashboard (builds the warehouse first if missing)")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--address", default="localhost", help="address to bind (default localhost)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = resolve_db_path(args.db)
    if not path.is_file():
        print(f"No warehouse at {path}; building synthetic Maine (scale 1) first ...", flush=True)
        build_warehouse(path)
    if not APP.is_file():
        raise FileNotFoundError(f"dashboard app not found at {APP}")
    env = dict(os.environ, **{ENV_VAR: str(path.resolve())})
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(args.port), "--server.address", args.address,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]
    print(f"Serving the dashboard on http://{args.address}:{args.port} (warehouse {path})", flush=True)
    return subprocess.call(cmd, env=env)
