"""Plan-engine throughput on one core: plans/s for random profiles, adapt/s on a 12-week plan.

Run: ``.venv/bin/python bench/bench_plans.py`` (prints a markdown table).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from programs.engine import Profile, WorkoutLog, adapt, generate_plan, load_library  # noqa: E402


def random_profile(rng: random.Random) -> Profile:
    ability = rng.choice(["walk_only", "run_minutes", "run_5k"])
    days = tuple(sorted(rng.sample(range(7), rng.randint(3, 6))))
    start = date(2025, 1, 6) + timedelta(days=rng.randint(0, 300))
    race = start + timedelta(days=rng.randint(14, 300)) if rng.random() < 0.5 else None
    return Profile(
        ability=ability,
        run_minutes=rng.randint(1, 60) if ability == "run_minutes" else None,
        days=days,
        equipment=frozenset(
            rng.sample(["band", "dumbbell", "ankle_weight", "machine"], rng.randint(0, 4))
        ),
        pain_area=rng.choice(["knee", "shin", "hip", "it_band", "foot", "none"]),
        pain_level=rng.randint(0, 10),
        start_date=start,
        race_date=race,
        race_type=rng.choice(["5k", "rundisney"]) if race else None,
    )


def bench(fn, items, min_seconds: float = 2.0) -> tuple[float, int]:
    n, t0 = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
            n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return n / elapsed, n


def main() -> None:
    rng = random.Random(20250303)
    load_library()  # parse the YAML outside the timed loop, as a long-lived worker would
    profiles = [random_profile(rng) for _ in range(2000)]
    plans_per_s, n_plans = bench(generate_plan, profiles)
    json_per_s, _ = bench(lambda p: generate_plan(p).to_json(), profiles[:500])

    twelve = Profile(
        ability="walk_only",
        days=(0, 2, 4, 6),
        start_date=date(2025, 3, 3),
        pain_area="knee",
        pain_level=2,
    )
    plan = generate_plan(twelve)
    logs = []
    for week in plan.weeks[:12]:
        for i, s in enumerate(week.sessions):
            logs.append(
                WorkoutLog(
                    s.date, "done", effort=5, pain_during=(i + week.index) % 5, pain_next_morning=1
                )
            )
    adapt_per_s, n_adapt = bench(lambda _: adapt(plan, logs), [None])
    print("| benchmark | ops/s | ops |")
    print("|---|---:|---:|")
    print(f"| generate_plan, random profiles | {plans_per_s:,.0f} | {n_plans} |")
    print(f"| generate_plan + to_json | {json_per_s:,.0f} | - |")
    print(
        f"| adapt, {len(plan.weeks)}-week plan, {len(logs)} logs | {adapt_per_s:,.0f} | {n_adapt} |"
    )


if __name__ == "__main__":
    main()
