"""2.4.0's and 2.3.0's validation size sweeps (`measure_abstain sizes --split val --per-class 120`) on the same 421 real
faces: at each size, each model's share of them at its threshold and at its likely-manipulated cut, and two one-sided
sign tests: 2.4.0 against 2.3.0 on the same faces at that size, and 2.4.0 against itself as found.

    python assets/experiments/full-bank-hold-cpu/refit44/sizes_vs_2.3.0.py \
        benchmarks/results/abstain_2.3.0/abstain_sizes_val.json benchmarks/results/abstain_sizes_val.json
(paths since session 20; it ran as `abstain_sizes_val.json abstain_2.4.0/abstain_sizes_val.json`)
"""

from __future__ import annotations

import json
import sys

from scipy.stats import binomtest


def sign_p(worse: int, better: int) -> float:
    return binomtest(worse, worse + better, 0.5, alternative="greater").pvalue if worse + better else 1.0


def main(old_path: str, new_path: str) -> None:
    old, new = ([r for r in json.load(open(p))["records"] if r["label"] == 0] for p in (old_path, new_path))
    assert len(old) == len(new) and all(a["set"] == b["set"] and a["face_px"] == b["face_px"] for a, b in zip(old, new))
    print(f"{len(new)} validation real faces")
    for cut in ("threshold", "fake_cut"):
        print(f"\nat each model's {cut}: size | 2.3.0 share | 2.4.0 share | 2.4.0 only / 2.3.0 only (p) | 2.4.0 newly / no longer vs as found (p)")
        found = [r["by_size"]["native"] >= r[cut] for r in new]
        for size in ("native", "200", "160", "128", "112", "96", "80", "64"):
            a = [r["by_size"][size] >= r[cut] for r in old]
            b = [r["by_size"][size] >= r[cut] for r in new]
            only_new, only_old = sum(y and not x for x, y in zip(a, b)), sum(x and not y for x, y in zip(a, b))
            newly, cleared = sum(y and not x for x, y in zip(found, b)), sum(x and not y for x, y in zip(found, b))
            print(f"{size:>6} | {sum(a) / len(a):.1%} | {sum(b) / len(b):.1%} | {only_new} / {only_old} ({sign_p(only_new, only_old):.3f})"
                  f" | {newly} / {cleared} ({sign_p(newly, cleared):.3f})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
