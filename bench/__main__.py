"""``python -m bench [--smoke] [--only SECTION ...]``: run the sections, write results JSON and the report.

Full runs write bench/results/*.json and BENCHMARKS.md; smoke runs write var/bench/smoke-results.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench import (
    analytics,
    auth,
    calls,
    faults,
    machine,
    mail,
    overhead,
    profile,
    report,
    scale,
    size,
    timers,
    web_processes,
    webhooks,
    workspace,
)
from bench.common import RESULTS, WORK_DIR, write_result

SECTIONS = {
    "overhead": overhead.run,
    "scale": scale.run,
    "timers": timers.run,
    "size": size.run,
    "profile": profile.run,
    "workspace": workspace.run,
    "mail": mail.run,
    "webhooks": webhooks.run,
    "calls": calls.run,
    "auth": auth.run,
    "web_processes": web_processes.run,
    "faults": faults.run,
    "analytics": analytics.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmark code, not the speed")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="run only these sections")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "full"
    # Smoke results never replace the committed ones: they go to var/bench/smoke-results with their own report.
    folder = WORK_DIR / "smoke-results" if args.smoke else RESULTS
    target = folder / "BENCHMARKS.md" if args.smoke else report.REPORT
    folder.mkdir(parents=True, exist_ok=True)
    run_info = {**machine.describe(), "mode": mode}
    began = time.perf_counter()
    for name in args.only or list(SECTIONS):
        section_began = time.perf_counter()
        print(f"bench: {name} ({mode}) ...", flush=True)
        data = SECTIONS[name](args.smoke)
        data["seconds"] = round(time.perf_counter() - section_began, 1)
        data["mode"] = mode
        text = data.pop("text", None)
        if text is not None:
            (folder / f"{name}.txt").write_text(text)
        write_result(folder, name, data)
        print(f"bench: {name} done in {data['seconds']} s", flush=True)
    run_info["seconds"] = round(time.perf_counter() - began, 1)
    run_info["load_average_at_end"] = os.getloadavg()
    write_result(folder, "machine", run_info)
    path = report.write(folder, target)
    print(f"bench: wrote {path} in {run_info['seconds']} s total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
