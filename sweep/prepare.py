"""Command line: `python -m sweep.prepare TASK... --profile P [options]`: prepare the data that a sweep's trials of
these tasks need (decoding, X-ray enhancement, resizing as Ray tasks on every core), and nothing else.

`python -m sweep.run NAME` does the same for its own trials before they start; run this beforehand to pay the
decoding once, e.g. while the GPU nodes are not up yet. Exit 0: every entry is ready; 1: preparing failed after
Ray started (traceback); 2: bad input (one line).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from search_spaces import PROFILES, expand
from trainables.spec import parse_assignments
from trainables.spec.tasks import list_tasks
from trainables.runtime.cli import OneLineParser

from .data_prep import check_data_folders, prepare_data
from .errors import UsageError
from .launcher import connect_ray
from .run import positive_int


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m sweep.prepare",
                           description="Prepare (decode once) the data of a sweep's trials of the given tasks, on Ray.",
                           error_type=UsageError)
    parser.add_argument("tasks", nargs="+", metavar="TASK", help=f"one or more of: {', '.join(list_tasks())}")
    parser.add_argument("--profile", default="paper", help="profile name; default: paper")
    parser.add_argument("--sweep", default="paper_grid", help="whose trials' data to prepare; default: paper_grid")
    parser.add_argument("--seeds", type=positive_int, default=1, help="capped profiles: each seed has its own entry")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="as for sweep.run, e.g. --set source=medmnist or --set data_root=/data/cxr14")
    parser.add_argument("--address", help="join this Ray cluster (host:port or auto); default: a local Ray")
    return parser


def plan(args: argparse.Namespace):
    unknown = [task for task in args.tasks if task not in list_tasks()]
    if unknown:
        raise UsageError(f"unknown task(s) {', '.join(unknown)}; expected: {', '.join(list_tasks())}")
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; expected one of: {', '.join(PROFILES)}")
    trials = [t for t in expand(args.sweep, args.profile, seeds=args.seeds, overrides=parse_assignments(args.overrides))
              if t.task in args.tasks]
    if not trials:
        raise UsageError(f"sweep {args.sweep} has no trials of {', '.join(args.tasks)}")
    check_data_folders(trials)
    return trials


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        try:
            trials = plan(args)
        except ValueError as error:
            raise UsageError(str(error).splitlines()[0]) from None
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        connect_ray(args.address)
        outcomes = prepare_data(trials)
    except KeyboardInterrupt:
        print("\ninterrupted; nothing half-prepared was kept", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("error: preparing the data failed (traceback above)", file=sys.stderr)
        return 1
    if not outcomes:
        print("nothing to prepare: these trials draw stand-in data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
