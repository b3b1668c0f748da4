"""``make soak``: the replay-determinism test, many times in a row, under load.

Each profile runs tests/integration/test_soak.py (the replay test ``RUNS`` times, one
broker) while one CPU is kept busy (``stress-ng --cpu 1`` if installed, else a busy
Python loop), with the worker's tick interval and fetch wait set by environment.
Prints one line per profile, ``profile: N/N identical``. Then the worker is SIGKILLed at
``--kills`` seeded random moments of a scripted scenario (tests/integration/
test_worker_hardening.py; the default suite uses fewer kills). Exits 1 if anything failed.

    python tests/soak.py [--runs 20] [--kills 20] [--profile default|slow|fast ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# worker timings: (tick interval s, consumer fetch wait ms)
PROFILES = {
    "default": {},
    "slow": {"CITYWATCH_TICK_INTERVAL_S": "2.0", "CITYWATCH_FETCH_MAX_WAIT_MS": "1500"},
    "fast": {"CITYWATCH_TICK_INTERVAL_S": "0.02", "CITYWATCH_FETCH_MAX_WAIT_MS": "1"},
}


def busy_cpu() -> subprocess.Popen[bytes]:
    """Keep one CPU busy until terminated."""
    if shutil.which("stress-ng"):
        cmd = ["stress-ng", "--cpu", "1", "--quiet"]
    else:
        cmd = [sys.executable, "-c", "while True: pass"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def run_profile(name: str, runs: int, workdir: Path) -> tuple[int, int]:
    """Run the soak module under one profile; (identical, runs)."""
    report = workdir / f"{name}.xml"
    env = {**os.environ, **PROFILES[name], "CITYWATCH_SOAK_RUNS": str(runs)}
    env.setdefault("PYTHONPATH", str(REPO))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/integration/test_soak.py",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
    ]
    print(f"== {name}: {runs} runs, {PROFILES[name] or 'default timings'}", flush=True)
    subprocess.run(cmd, cwd=REPO, env=env, check=False)
    if not report.exists():
        return 0, runs
    cases = ET.parse(report).getroot().iter("testcase")  # noqa: S314 (pytest's own report)
    passed = sum(1 for c in cases if not list(c))  # no failure, error or skipped child
    return passed, runs


def run_kills(kills: int, workdir: Path) -> bool:
    """The SIGKILL test with ``kills`` kills; True when every incident got all its outputs."""
    report = workdir / "kills.xml"
    env = {**os.environ, "CITYWATCH_KILLS": str(kills)}
    env.setdefault("PYTHONPATH", str(REPO))
    test = "tests/integration/test_worker_hardening.py::test_sigkill_at_random_moments_loses_no_output"
    print(f"== sigkill: {kills} kills", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=REPO,
        env=env,
        check=False,
    )
    if not report.exists():
        return False
    return all(not list(c) for c in ET.parse(report).getroot().iter("testcase"))  # noqa: S314 (pytest's own report)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="runs per profile (default 20)")
    parser.add_argument(
        "--profile",
        action="append",
        choices=sorted(PROFILES),
        help="timing profile(s) to run (default: default, slow, fast)",
    )
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs in the kill test (0: skip it)")
    args = parser.parse_args()
    profiles = args.profile or ["default", "slow", "fast"]
    load = busy_cpu()
    results: list[tuple[str, int, int]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="citywatch-soak-") as tmp:
            for name in profiles:
                results.append((name, *run_profile(name, args.runs, Path(tmp))))
                print(f"{name}: {results[-1][1]}/{results[-1][2]} identical", flush=True)
            killed_ok = run_kills(args.kills, Path(tmp)) if args.kills else True
    finally:
        load.terminate()
        load.wait(10)
    print("== soak summary (one CPU kept busy)")
    for name, ok, total in results:
        print(f"{name}: {ok}/{total} identical")
    ok_all, total_all = sum(r[1] for r in results), sum(r[2] for r in results)
    if args.kills:
        print(f"sigkill: {args.kills} kills, {'no output lost' if killed_ok else 'FAILED'}")
    print(f"SOAK {ok_all}/{total_all} identical")
    return 0 if ok_all == total_all and killed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
