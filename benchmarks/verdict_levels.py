"""False-positive rate and power of the pooled test and of the 'supported' verdict, before and after the unit of
replication became the seed (analysis.simulation). Prints a table; no timing.

    python benchmarks/verdict_levels.py [--runs 400]
"""

from __future__ import annotations

import argparse
import math

from analysis.simulation import rates, simulate

SCENARIOS = (("no effect, 3 seeds", 3, 0.0), ("no effect, 5 seeds", 5, 0.0), ("large effect, 5 seeds", 5, 0.5),
             ("large effect, 3 seeds", 3, 0.5), ("small effect, 5 seeds", 5, 0.15))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    names = None
    for index, (title, seeds, effect) in enumerate(SCENARIOS):
        found = rates(simulate(args.runs, seeds=seeds, images=args.images, effect=effect, rng_seed=index))
        if names is None:
            names = list(found)
            print(f"| scenario ({args.runs} runs, {args.images} shared images) | " + " | ".join(names) + " |")
            print("| --- |" + " ---: |" * len(names))
        print(f"| {title} | " + " | ".join(f"{found[name]:.3f}" for name in names) + " |")
    print(f"Monte Carlo SE at 5 %: {math.sqrt(0.05 * 0.95 / args.runs):.3f}")


if __name__ == "__main__":
    main()
