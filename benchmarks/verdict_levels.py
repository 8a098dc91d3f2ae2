"""Size and power of the claims' decision rule, per claim kind and seed count, by the report's own rule
(analysis.claims.verdicts_of on sweeps simulated with a test split per seed: analysis.simulation). Prints a table;
no timing.

    python benchmarks/verdict_levels.py [--runs 400] [--seeds 2 3 5 10] [--points 1000]

Per claim kind: under the null (the claim's boundary) the share of sweeps in which either attack's row got a verdict
of either kind (the decision's error; target <= 0.05 + Monte Carlo error); with the claim true by 0.10 on its
statistic (the middle of the band for "within" and "met at") at a training seed SD of 0.03, the share in which the
worst-case row is supported; the seed advice the report gives for that effect (claims.seeds_needed) and the fewest
simulated seeds with power >= 0.8.
"""

from __future__ import annotations

import argparse
import math

from analysis.simulation import advised_seeds, scenarios, verdict_rates


def fewest_seeds(scenario, runs: int, most: int, rng_seed: int) -> tuple[int | None, dict[int, float]]:
    """The fewest seeds (2..most) whose simulated power reaches 0.8, and the power at each count tried."""
    powers = {}
    for seeds in range(2, most + 1):
        powers[seeds] = verdict_rates(scenario, seeds, runs, rng_seed + seeds).supported
        if powers[seeds] >= 0.8:
            return seeds, powers
    return None, powers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 5, 10])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--most", type=int, default=12, help="largest seed count the advice is checked against")
    args = parser.parse_args()
    kinds = scenarios(points=args.points)
    header = " | ".join(f"{s} seeds: null any / true supported" for s in args.seeds)
    print(f"| claim kind ({args.runs} runs, {args.points} points per seed's split) | {header} | advice | "
          "simulated fewest (power >= 0.8) |")
    print("| --- |" + " ---: |" * (len(args.seeds) + 2))
    for index, (kind, (null, true)) in enumerate(kinds.items()):
        cells = []
        for seeds in args.seeds:
            size = verdict_rates(null, seeds, args.runs, 1000 * index + seeds)
            power = verdict_rates(true, seeds, args.runs, 1000 * index + 500 + seeds)
            cells.append(f"{size.any_verdict:.3f} / {power.supported:.3f}")
        advice = advised_seeds(true)
        fewest, _ = fewest_seeds(true, args.runs, args.most, 1000 * index + 700)
        print(f"| {kind} | " + " | ".join(cells) + f" | {advice or f'> {50}'} | {fewest or f'> {args.most}'} |")
    print(f"Monte Carlo SE of a rate at 0.05: {math.sqrt(0.05 * 0.95 / args.runs):.3f}; at 0.8: "
          f"{math.sqrt(0.8 * 0.2 / args.runs):.3f}")


if __name__ == "__main__":
    main()
