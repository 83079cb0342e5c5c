"""Run the benchmarks (`make bench`), each in a process of its own, and summarise: PASS, MISS or ERROR per module.

Usage: bench/run.py [module ...]   (default: all, in the order below; e.g. `bench/run.py order_api activation`)

A module's exit code says how it went (0 every target passed, 1 a target missed, 2 an error); a module that exits
0 or 1 but printed a MISS verdict is a MISS, one that exits 1 without one is an ERROR. A failing module does not stop
the others. Exit code: 2 if any module errored, else 1 if any missed a target, else 0. Each module is stopped after
COS_BENCH_TIMEOUT seconds (default 1800).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {
    "area_deployment": [],
    "workorders_batch": [],
    "address_search": [],
    "availability": [],
    "order_api": [],
    "activation": [],
    "first_invoice": [],
    "billing_run": ["--workers", "2"],
    "wholesale_settlement": [],
    "board": [],
}
VERDICT = re.compile(r"\b(PASS|MISS)\b")


def machine() -> str:
    """nproc, the CPU model, RAM and the load average: the figures depend on them."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown CPU",
    )
    ram = next(
        (
            int(line.split()[1]) / 1024**2
            for line in Path("/proc/meminfo").read_text().splitlines()
            if "MemTotal" in line
        ),
        0.0,
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), {ram:.0f} GB RAM, load average {load}"


def run_module(name: str, args: list[str], timeout: float) -> tuple[str, int, float]:
    """Run one module (`python -m bench.<name>`), its output passed through; (PASS/MISS/ERROR, exit code, seconds)."""
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    timer = threading.Timer(timeout, process.send_signal, [signal.SIGTERM])  # the module cleans up on SIGTERM
    timer.start()
    verdicts = set()
    try:
        for line in process.stdout:
            sys.stdout.write(line)
            verdicts.update(VERDICT.findall(line))
        code = process.wait()
    except KeyboardInterrupt:
        process.wait()  # it got the Ctrl-C too: its servers stop and its database is dropped
        raise
    finally:
        timer.cancel()
    if code in (0, 1) and "MISS" in verdicts:
        result = "MISS"
    elif code == 0:
        result = "PASS"
    else:
        result = "ERROR"
    return result, code, time.monotonic() - start


def main(argv: list[str]) -> int:
    names = argv or list(MODULES)
    unknown = [name for name in names if name not in MODULES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    timeout = float(os.environ.get("COS_BENCH_TIMEOUT") or 1800)
    print(f"machine: {machine()}", flush=True)
    results = []
    try:
        for name in names:
            print(f"\n### bench.{name} {' '.join(MODULES[name])}".rstrip(), flush=True)
            start = time.monotonic()
            results.append((name, *run_module(name, MODULES[name], timeout)))
    except KeyboardInterrupt:
        print("\ninterrupted: the running module cleaned up after itself", file=sys.stderr)
        results.append((name, "ERROR", 130, time.monotonic() - start))
    print(f"\n== summary ({machine()}) ==")
    print(f"{'module':<20} {'result':<6} {'exit':>4} {'seconds':>8}")
    for name, result, code, seconds in results:
        print(f"{name:<20} {result:<6} {code:>4} {seconds:>8.0f}")
    outcomes = {result for _, result, _, _ in results}
    return 2 if "ERROR" in outcomes else 1 if "MISS" in outcomes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
