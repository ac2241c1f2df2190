"""`edudash build`: generate synthetic Maine and swap it in as the warehouse."""

from __future__ import annotations

import argparse
import time

from warehouse.build import build_warehouse
from warehouse.connection import resolve_db_path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="build a synthetic Maine-like warehouse (atomic: the old file stays until it is done)",
        description="Generate synthetic Maine data and write it as the warehouse file. The same "
        "--seed and --scale always give the same data.",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="1 = Maine size (about 171,000 students); default 1",
    )
    p.add_argument("--seed", type=int, default=20261128, help="random seed (default 20261128)")
    p.add_argument(
        "--demo-users",
        action="store_true",
        help="also create one demo account per role (local use only; passwords printed)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.scale <= 50:
        raise ValueError(f"--scale must be greater than 0 and at most 50, got {args.scale}")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    path = resolve_db_path(args.db)
    started = time.perf_counter()
    summary = build_warehouse(path, scale=args.scale, seed=args.seed)
    took = time.perf_counter() - started
    print(f"Built warehouse {summary.path} (build {summary.build_id}) in {took:.1f} s")
    for table, n in summary.row_counts.items():
        print(f"  {table:<34} {n:>10,}")
    if args.demo_users:
        from privacy.users import create_demo_users

        print("\nDEMO ACCOUNTS (local use only; never use these on real data):")
        for user_id, role, password in create_demo_users(path):
            print(f"  {role:<18} user {user_id:<20} password {password}")
    return 0
