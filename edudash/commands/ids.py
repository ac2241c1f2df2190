"""`edudash ids`: the reconciliation review queue and merges of state IDs (MDOE staff only)."""

from __future__ import annotations

import argparse
import getpass

from edudash.cli import check_count
from warehouse.connection import resolve_db_path
from warehouse.reconciliation import decide_review, merge_ids, pending_reviews

_SIDE_BY_SIDE = (
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "race_ethnicity",
    "guardian_name",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ids", help="review possible duplicate people and merge state IDs")
    ids = p.add_subparsers(dest="ids_command", metavar="ACTION", required=True)
    r = ids.add_parser("review", help="list pending review items side by side")
    r.add_argument(
        "--limit", type=int, default=20, help="show at most this many items (default 20)"
    )
    r.set_defaults(func=run_review)
    d = ids.add_parser("decide", help="decide a review item: same person or different people")
    d.add_argument("review_id")
    d.add_argument("decision", choices=("same", "different"))
    d.add_argument("--by", default=None, help="reviewer recorded with the decision")
    d.set_defaults(func=run_decide)
    m = ids.add_parser("merge", help="merge ALIAS into KEEP (one person); ALIAS is retired")
    m.add_argument("keep")
    m.add_argument("alias")
    m.add_argument("--by", default=None, help="user recorded with the merge")
    m.add_argument("--staff", action="store_true", help="the IDs are state staff IDs")
    m.set_defaults(func=run_merge)
    for sp in (r, d, m):
        sp.add_argument(
            "--db", metavar="PATH", default=argparse.SUPPRESS, help="warehouse DuckDB file"
        )


def _who(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def run_review(args: argparse.Namespace) -> int:
    check_count(args.limit, "--limit")
    items = pending_reviews(resolve_db_path(args.db))
    if items.height == 0:
        print("No pending review items.")
        return 0
    print(f"{items.height} pending review item(s)")
    for row in items.head(args.limit).iter_rows(named=True):
        print(
            f"\n{row['review_id']}  {row['id_kind'].lower()}  "
            f"p(same) = {row['match_probability']:.3f}  SSN: {row['ssn_agreement']}"
        )
        print(
            f"  {'field':<16}{'incoming (' + row['new_id'] + ')':<30}{'candidate (' + row['candidate_id'] + ')':<30}"
        )
        for f in _SIDE_BY_SIDE:
            if f"new_{f}" in row and row[f"new_{f}"] is not None:
                print(f"  {f:<16}{str(row[f'new_{f}']):<30}{str(row[f'candidate_{f}']):<30}")
    return 0


def run_decide(args: argparse.Namespace) -> int:
    result = decide_review(
        resolve_db_path(args.db), args.review_id, args.decision == "same", _who(args.by)
    )
    if result is None:
        print("Recorded: different people; the provisional ID stays.")
    else:
        print(f"Merged {result.alias} into {result.keep}; moved {sum(result.moved.values())} rows.")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    person = "staff" if args.staff else "student"
    result = merge_ids(
        resolve_db_path(args.db), args.keep, args.alias, _who(args.by), person=person
    )
    moved = ", ".join(f"{t} {n}" for t, n in result.moved.items()) or "no rows"
    print(
        f"Merged {result.alias} into {result.keep} (alias recorded; never reissued). Moved: {moved}."
    )
    if result.dropped_duplicates:
        dup = ", ".join(f"{t} {n}" for t, n in result.dropped_duplicates.items())
        print(f"Rows reported under both IDs for the same key kept once: {dup}.")
    return 0
