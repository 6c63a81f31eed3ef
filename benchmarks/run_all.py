"""Run every benchmark in one go (`make bench`); results land in benchmarks/results/*.json."""

from benchmarks import (
    bench_busy,
    bench_eval,
    bench_explain,
    bench_latency,
    bench_lime,
    bench_memory,
    bench_stability,
    bench_video,
)

if __name__ == "__main__":
    for module in (bench_latency, bench_stability, bench_explain, bench_busy, bench_lime, bench_video, bench_memory,
                   bench_eval):
        module.main([]) if module in (bench_lime, bench_eval, bench_explain, bench_busy) else module.main()
