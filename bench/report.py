"""Turn bench/results/*.json into BENCHMARKS.md with tables and matplotlib plots (``python -m bench.report``).

Kept apart from the measurements so the report can be regenerated, and tested, from a results
folder alone.  A section whose results file is missing says so instead of showing figures.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from bench.common import RESULTS  # noqa: E402
from engine.config import PROJECT_ROOT  # noqa: E402

REPORT = PROJECT_ROOT / "BENCHMARKS.md"
PLOTS = "<plots>/"  # replaced by the plots' folder relative to the report


def _load(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _plot(folder: Path, name: str, draw) -> str:
    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    draw(axes)
    figure.tight_layout()
    figure.savefig(folder / f"{name}.png", dpi=100)
    plt.close(figure)
    return f"![{name}]({PLOTS}{name}.png)"


def machine_section(data: dict) -> str:
    return "\n".join(
        [
            f"Measured {data['date']} in **{data['mode']}** mode, {data['seconds']} s in all.",
            "",
            "| | |",
            "|---|---|",
            f"| CPU | {data['cpu_model']}, {data['cores']} cores |",
            f"| RAM | {data['ram_gib']} GiB |",
            f"| load average (1/5/15 min) at start / end | {_loads(data['load_average_at_start'])} / "
            f"{_loads(data['load_average_at_end'])} |",
            f"| Python | {data['python']} |",
            f"| SpiffWorkflow | {data['spiffworkflow']} |",
            f"| SQLite | {data['sqlite']} |",
            f"| PostgreSQL | {data['postgresql']} (127.0.0.1) |",
            f"| SQLAlchemy / waitress | {data['sqlalchemy']} / {data['waitress']} |",
            *([f"| gunicorn | {data['gunicorn']} |"] if "gunicorn" in data else []),
            f"| platform | {data['platform']} |",
            *([f"| kernel.sched_autogroup_enabled | {data['sched_autogroup']} |"] if "sched_autogroup" in data else []),
        ]
    )


def _loads(values: list[float]) -> str:
    return " ".join(f"{v:.1f}" for v in values)


def overhead_section(data: dict, folder: Path) -> str:
    bare = data["bare_instances_per_s"]
    lines = [
        "The inquiry lifecycle (start, staff task, customer confirmation) through `carecenter serve` over HTTP on "
        "loopback, against the bare SpiffWorkflow library doing the same transitions in one process with "
        "serialize/deserialize between steps. Goal: full stack ≥ "
        f"{data['goal_ratio']} × bare.",
        "",
        f"Bare library: **{bare:.0f} instances/s**.",
        "",
    ]
    paired = all("bare_instances_per_s" in row for row in data["full_stack"])
    if paired:
        lines += [
            "Each row's ratio is to the bare library measured in turns with it (the bare library in the "
            "benchmark's process while the server idles, round by round), so both come from the same minutes.",
            "",
        ]
    lines += [
        "| backend | clients | instances/s | bare, same minutes | rounds | ratio to bare | goal |"
        if paired
        else "| backend | clients | instances/s | ratio to bare | goal |",
        "|---|---|---|---|---|---|---|" if paired else "|---|---|---|---|---|",
    ]
    for row in data["full_stack"]:
        ok = row["ratio_to_bare"] >= data["goal_ratio"]
        paired_cells = f"{row['bare_instances_per_s']:.0f} | {row['rounds']} | " if paired else ""
        lines.append(
            f"| {row['backend']} | {row['clients']} | {row['instances_per_s']:.1f} | {paired_cells}"
            f"{row['ratio_to_bare']:.3f} | {_verdict(ok)} |"
        )

    if "statements" in data:
        lines += [
            "",
            "SQL statements per lifecycle (start / staff task / confirmation; BEGIN not counted), counted in process "
            f"through the Flask app, before #21 (commit f6aaf5e) and now. Goal: ≤ {data['goal_statements']}. "
            "Round trips: the times the client waits for the database; on PostgreSQL the statements whose answer "
            "nobody reads go with the next one (engine/write_batch.py), on SQLite each statement is a call in the "
            "process.",
            "",
            "| backend | before | now | goal | round trips now |",
            "|---|---|---|---|---|",
        ]
        for backend, counts in data["statements"].items():
            before, now = counts["before"], counts["now"]
            trips = counts.get("round_trips")
            trip_cell = f"{' / '.join(map(str, trips))} = {sum(trips)}" if trips else "not counted"
            lines.append(
                f"| {backend} | {' / '.join(map(str, before))} = {sum(before)} | "
                f"{' / '.join(map(str, now))} = {sum(now)} | {_verdict(sum(now) <= data['goal_statements'])} | "
                f"{trip_cell} |"
            )

    def draw(axes) -> None:
        labels = ["bare"] + [f"{r['backend']}\n{r['clients']} client(s)" for r in data["full_stack"]]
        axes.bar(labels, [bare] + [r["instances_per_s"] for r in data["full_stack"]], color="tab:blue")
        axes.set_ylabel("instances/s")
        axes.set_yscale("log")
        axes.set_title("Inquiry lifecycle: full stack vs bare library")

    lines += ["", _plot(folder, "overhead", draw)]
    return "\n".join(lines)


def scale_section(data: dict, folder: Path) -> str:
    goals = data["goals"]
    lines = [
        f"{data['completed_instances']:,} completed and {data['open_instances']:,} open instances bulk-loaded "
        f"in {data['load_seconds']:.0f} s (copies of real instances), vacuumed and counted for the reports "
        f"({data['count_seconds']:.0f} s), {data['backend']}, {data['transport']}: one server on that database and "
        f"one on a nearly empty one, {data['samples_per_operation']} requests per operation to each, sequential, "
        f"one keep-alive client per server, the two taking turns in {data['rounds']} rounds per operation so "
        "that both figures come from the same minutes. "
        f"Goals: reads p95 ≤ {goals['read_p95_ms']} ms; loaded ≤ {goals['loaded_to_empty']} × empty. "
        "Lookups by tracking code are padded to a fixed floor on purpose, so that timing does not tell which "
        "codes exist; for those the read goal applies to the time above the floor.",
        "",
        "| operation | empty p50 / p95 / p99 ms | loaded p50 / p95 / p99 ms | p95 loaded/empty | goal |",
        "|---|---|---|---|---|",
    ]
    for op in data["operations"]:
        ok = op["p95_ratio"] <= goals["loaded_to_empty"]
        floor = op.get("floor_ms", 0)
        if op["kind"] == "read":
            ok = ok and op["loaded"]["p95"] - floor <= goals["read_p95_ms"]
        padded = f", padded to {floor:.0f} ms" if floor else ""
        lines.append(
            f"| {op['operation']} ({op['kind']}{padded}) | {_ms(op['empty'])} | {_ms(op['loaded'])} | "
            f"{op['p95_ratio']:.2f} | {_verdict(ok)} |"
        )

    def draw(axes) -> None:
        names = [op["operation"] for op in data["operations"]]
        positions = range(len(names))
        axes.bar([p - 0.2 for p in positions], [op["empty"]["p95"] for op in data["operations"]], 0.4, label="empty")
        axes.bar([p + 0.2 for p in positions], [op["loaded"]["p95"] for op in data["operations"]], 0.4, label="loaded")
        axes.set_xticks(list(positions), names)
        axes.set_ylabel("p95 latency (ms)")
        axes.set_title("Latency on an empty and on a loaded database")
        axes.legend()

    lines += ["", _plot(folder, "scale", draw)]
    return "\n".join(lines)


def _ms(figures: dict) -> str:
    return f"{figures['p50']:.1f} / {figures['p95']:.1f} / {figures['p99']:.1f}"


def memory_section(data: dict) -> str:
    memory = data["memory"]
    rows = [("carecenter serve", "serve"), ("carecenter worker", "worker")]
    lines = [
        "Resident memory (VmRSS from /proc) on the nearly empty database and on the loaded one (section 2): "
        "serve's figures are the two servers' after the same requests, the worker's one idle worker's on each "
        "database. Goal: no growth with stored instances.",
        "",
        "| process | empty MiB | loaded MiB | loaded/empty |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        empty, loaded = memory[f"{key}_empty_kib"], memory[f"{key}_loaded_kib"]
        lines.append(f"| {label} | {empty / 1024:.1f} | {loaded / 1024:.1f} | {loaded / empty:.3f} |")
    return "\n".join(lines)


def timers_section(data: dict, folder: Path) -> str:
    goals = data["goals"]
    lines = [
        f"Timers due evenly within a window, fired by `carecenter worker` processes (default settings but "
        f"`CARECENTER_ANALYTICS_SECONDS=0`: they leave the analytics counting to another worker, as "
        f"docs/operations.md advises under a heavy timer load; none runs here) on "
        f"{data['backend']}. Lateness = `timer_fired` history time − due time. Goals: p99 ≤ "
        f"{goals['p99_seconds']} s, zero duplicates, zero missed.",
        "",
        "| workers | timers | window s | fired | duplicates | missed | lateness p50 / p99 / max s | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in data["runs"]:
        late = run["lateness_seconds"]
        ok = late["p99"] <= goals["p99_seconds"] and run["duplicates"] == 0 and run["missed"] == 0
        lines.append(
            f"| {run['workers']} | {run['timers']:,} | {run['window_seconds']:.0f} | {run['fired']:,} | "
            f"{run['duplicates']} | {run['missed']} | {late['p50']:.3f} / {late['p99']:.3f} / {late['max']:.3f} | "
            f"{_verdict(ok)} |"
        )
    if "rates" in data:
        lines += [
            "",
            "Firing rate: all timers due as the workers start, time until none is pending. "
            f"Goals: one worker ≥ {data['rate_goals']['1']}/s, two ≥ {data['rate_goals']['2']}/s.",
            "",
            "| workers | timers | firings/s | goal |",
            "|---|---|---|---|",
        ]
        for rate in data["rates"]:
            goal = data["rate_goals"][str(rate["workers"])]
            lines.append(
                f"| {rate['workers']} | {rate['timers']:,} | {rate['firings_per_s']:.0f} | "
                f"{_verdict(rate['firings_per_s'] >= goal)} |"
            )
        statements = data["statements_per_firing"]
        lines += [
            "",
            f"SQL statements per firing (in process, BEGIN not counted): {statements['before']:.2f} before #21 "
            f"(commit f6aaf5e), **{statements['now']:.2f}** now"
            + (
                f", in {statements['round_trips']:.2f} round trips (engine/write_batch.py)."
                if "round_trips" in statements
                else "."
            ),
        ]

    def draw(axes) -> None:
        for offset, key in ((-0.25, "p50"), (0.0, "p99"), (0.25, "max")):
            axes.bar(
                [r["workers"] + offset for r in data["runs"]],
                [r["lateness_seconds"][key] for r in data["runs"]],
                0.25,
                label=key,
            )
        axes.set_xticks([r["workers"] for r in data["runs"]], [f"{r['workers']} worker(s)" for r in data["runs"]])
        axes.set_ylabel("lateness (s)")
        axes.set_title("Timer lateness")
        axes.legend()

    lines += ["", _plot(folder, "timers", draw)]
    return "\n".join(lines)


def size_section(data: dict, folder: Path) -> str:
    goal = data["goal_exponent"]
    lines = [
        f"One instance per size (a script loop plus a parallel multi-instance user task), {data['backend']}, "
        f"{data['transport']}. Time to complete one task (median) and bytes of the stored state. Goal: log-log "
        f"exponent ≤ {goal} (no worse than linear).",
        "",
        "| tasks in the instance | start ms | complete one task ms | stored state bytes |",
        "|---|---|---|---|",
    ]
    for row in data["sizes"]:
        lines.append(f"| {row['tasks']} | {row['start_ms']:.1f} | {row['complete_ms']:.1f} | {row['state_bytes']:,} |")
    lines += [
        "",
        f"Fitted exponent: completing a task **{data['exponent_complete']:.2f}** "
        f"({_verdict(data['exponent_complete'] <= goal)}), stored bytes **{data['exponent_bytes']:.2f}** "
        f"({_verdict(data['exponent_bytes'] <= goal)}).",
    ]

    def draw(axes) -> None:
        tasks = [r["tasks"] for r in data["sizes"]]
        axes.loglog(tasks, [r["complete_ms"] for r in data["sizes"]], "o-", label="complete one task (ms)")
        axes.loglog(tasks, [r["state_bytes"] / 1000 for r in data["sizes"]], "s-", label="stored state (kB)")
        axes.set_xlabel("tasks in the instance")
        axes.set_title("Cost per workflow size (log-log)")
        axes.legend()

    lines += ["", _plot(folder, "size", draw)]
    return "\n".join(lines)


def profile_section(data: dict) -> str:
    lines = [
        f"{data['what']}: {data['lifecycles']} lifecycles, {data['ms_per_lifecycle']:.1f} ms each under the "
        "profiler. Self time by area:",
        "",
        "| area | share |",
        "|---|---|",
    ]
    lines += [f"| {a['area']} | {a['share']:.0%} |" for a in data["areas"]]
    lines += ["", "Hottest functions (self time):", "", "| function | share |", "|---|---|"]
    lines += [f"| `{f['function']}` | {f['share']:.1%} |" for f in data["hottest"]]
    lines += ["", "The full text profile is in `bench/results/profile.txt`."]
    return "\n".join(lines)


def workspace_section(data: dict, folder: Path) -> str:
    goals = data["goals"]
    empty, loaded = data["empty"], data["loaded"]
    lines = [
        f"The staff search (`GET /search?q=`), {data['transport']}, {data['backend']}: a nearly empty database "
        f"({empty['cases']:,} cases, {empty['customers']:,} customers) beside a loaded one ({loaded['cases']:,} "
        f"cases, {data['open_share']:.0%} open, and {loaded['customers']:,} customers, seeded with bulk inserts in "
        f"{data['load_seconds']:.0f} s), measured in {data['rounds']} alternating rounds, "
        f"{data['samples_per_query_kind']} searches per kind of query on each, every one a fresh term. Goals: "
        f"p95 ≤ {goals['p95_ms']} ms; loaded ≤ {goals['loaded_to_empty']} × empty.",
        "",
        "| query | empty p50 / p95 / p99 ms | loaded p50 / p95 / p99 ms | p95 loaded/empty | goal |",
        "|---|---|---|---|---|",
    ]
    for row in data["queries"]:
        ok = row["loaded"]["p95"] <= goals["p95_ms"] and row["p95_ratio"] <= goals["loaded_to_empty"]
        label = "all kinds" if row["query"] == "all" else row["query"].replace("_", " ")
        lines.append(
            f"| {label} | {_ms(row['empty'])} | {_ms(row['loaded'])} | {row['p95_ratio']:.2f} | {_verdict(ok)} |"
        )
    if data.get("pages"):
        page_goals = data["page_goals"]
        lines += [
            "",
            f"The customer page (`GET /customers/<id>`: who they are, requests, contacts, notes, systems and "
            f"licenses) for a random customer, as often on each database. Goals: p95 ≤ {page_goals['p95_ms']} ms; "
            f"loaded ≤ {page_goals['loaded_to_empty']} × empty.",
            "",
            "| page | empty p50 / p95 / p99 ms | loaded p50 / p95 / p99 ms | p95 loaded/empty | goal |",
            "|---|---|---|---|---|",
        ]
        for row in data["pages"]:
            ok = row["loaded"]["p95"] <= page_goals["p95_ms"] and row["p95_ratio"] <= page_goals["loaded_to_empty"]
            lines.append(
                f"| {row['page'].replace('_', ' ')} | {_ms(row['empty'])} | {_ms(row['loaded'])} | "
                f"{row['p95_ratio']:.2f} | {_verdict(ok)} |"
            )

    def draw(axes) -> None:
        rows = data["queries"]
        positions = range(len(rows))
        axes.bar([p - 0.2 for p in positions], [r["empty"]["p95"] for r in rows], 0.4, label="nearly empty")
        axes.bar([p + 0.2 for p in positions], [r["loaded"]["p95"] for r in rows], 0.4, label="loaded")
        axes.axhline(goals["p95_ms"], color="tab:red", linestyle="--", linewidth=1, label="goal")
        axes.set_xticks(list(positions), [r["query"].replace("_", "\n") for r in rows])
        axes.set_ylabel("p95 latency (ms)")
        axes.set_title("Staff search on a nearly empty and on a loaded database")
        axes.legend()

    lines += ["", _plot(folder, "workspace", draw)]
    return "\n".join(lines)


def mail_section(data: dict) -> str:
    goals, run = data["goals"], data["run"]
    receive_ok = run["receive_mails_per_s"] >= goals["receive_mails_per_s"]
    process_ok = run["process_mails_per_s"] >= goals["process_mails_per_s"]
    whole_ok = run["lost"] == goals["lost"] and run["twice"] == goals["twice"]
    return "\n".join(
        [
            f"{run['mails']:,} mails delivered over SMTP on loopback ({run['connections']} connections) to "
            f"`carecenter mail receive` while no worker runs, on {data['backend']}; then one `carecenter worker` "
            "turns them into inquiries (the processing rate from the first to the last `processed_at`, without the "
            f"worker's start-up). Goals: receiving ≥ {goals['receive_mails_per_s']} mails/s, processing ≥ "
            f"{goals['process_mails_per_s']} mails/s, none lost, none twice."
            + (
                f" Measured {data['measured']}, load average {data['load_average_at_start'][0]:.1f} at the start."
                if "measured" in data
                else ""
            ),
            "",
            "| mails | acknowledged | stored before the worker | received mails/s | processed | "
            "processed mails/s | worker wall s | lost | twice |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {run['mails']:,} | {run['acknowledged']:,} | {run['stored_before_worker']:,} | "
            f"{run['receive_mails_per_s']:.0f} ({_verdict(receive_ok)}) | {run['processed']:,} | "
            f"{run['process_mails_per_s']:.1f} ({_verdict(process_ok)}) | {run['process_wall_seconds']:.1f} | "
            f"{run['lost']} | {run['twice']} ({_verdict(whole_ok)}) |",
        ]
    )


def webhooks_section(data: dict) -> str:
    goals, run = data["goals"], data["run"]
    rate_ok = run["deliveries_per_s"] >= goals["deliveries_per_s"]
    whole_ok = run["lost"] == goals["lost"] and run["out_of_order_cases"] == goals["out_of_order_cases"]
    return "\n".join(
        [
            f"{run['events']:,} events of {run['cases']:,} cases in the event log fan out to {run['endpoints']} "
            f"webhook endpoints (a threaded receiver on loopback that checks every signature), sent by "
            f"{run['workers']} `carecenter worker` processes on {data['backend']}; the rate from the first to the "
            f"last request received. Goals: ≥ {goals['deliveries_per_s']} deliveries/s, none lost, none out of "
            "order per case."
            + (
                f" Measured {data['measured']}, load average {data['load_average_at_start'][0]:.1f} at the start"
                + (" (a shared machine, loaded by other work)." if data["load_average_at_start"][0] >= 1 else ".")
                if "measured" in data
                else ""
            ),
            "",
            "| deliveries | requests | repeats | bad signatures | deliveries/s | wall s | lost | cases out of order |",
            "|---|---|---|---|---|---|---|---|",
            f"| {run['deliveries_expected']:,} | {run['requests']:,} | {run['repeats']} | {run['bad_signatures']} | "
            f"{run['deliveries_per_s']:.0f} ({_verdict(rate_ok)}) | {run['wall_seconds']:.1f} | {run['lost']} | "
            f"{run['out_of_order_cases']} ({_verdict(whole_ok)}) |",
        ]
    )


def calls_section(data: dict) -> str:
    goal = data["goals"]["p95_s"]
    lines = [
        f"A phone system's `newCall` (form-encoded, to its CTI URL) until a signed-in staff member's screen-pop "
        f"stream (`/calls/stream`) has delivered the call's pop, on a real `carecenter serve`; each call is then hung "
        f"up (logged as missed). Goal: p95 ≤ {goal:g} s."
        + (f" Measured {data['measured']}." if "measured" in data else ""),
        "",
        "| database | calls | p50 ms | p95 ms | max ms | goal |",
        "|---|---|---|---|---|---|",
    ]
    for run in data["runs"]:
        latency = run["latency_s"]
        lines.append(
            f"| {run['backend']} | {run['calls']} | {latency['p50'] * 1000:.0f} | {latency['p95'] * 1000:.0f} | "
            f"{latency['max'] * 1000:.0f} | {_verdict(latency['p95'] <= goal)} |"
        )
    return "\n".join(lines)


def auth_section(data: dict) -> str:
    lines = [
        f"Checking a bearer token ({data['what']}), before #21 (the old check, kept in `bench/auth.py`) and now, "
        f"{data['repeat']} checks per case. Statements are the SQL statements sent, counted by an event listener on "
        "the engine (not BEGIN, which psycopg sends by itself). Now a token's answer is kept for "
        f"{data['cache_seconds']:g} s in each process, and its use noted at most once a minute.",
        "",
        "| backend | case | statements before | statements now | µs before | µs now |",
        "|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        lines.append(
            f"| {row['backend']} | {row['case']} | {row['before_statements']:.2f} | {row['after_statements']:.3f} | "
            f"{row['before_us']:.0f} | {row['after_us']:.0f} |"
        )
    return "\n".join(lines)


def web_processes_section(data: dict, folder: Path) -> str:
    ok = data["ratio_two_to_one"] >= data["goal_ratio"]
    start, end = data["load_average_at_start"], data["load_average_at_end"]
    lines = [
        f"The inquiry lifecycle of section 1 by {data['clients']} concurrent clients over HTTP on loopback, "
        f"{data['backend']}, each lifecycle on a new connection; the servers ran side by side and were measured in "
        f"{data['rounds']} alternating rounds of {data['lifecycles_per_client_and_round']} lifecycles per client. "
        f"{data['cores']} cores; load average {start[0]:.1f} at the start, {end[0]:.1f} at the end. "
        f"Goal: 2 processes ≥ {data['goal_ratio']} × 1 process.",
        "",
        "| server | processes | lifecycles | instances/s | per round | CPU ms per lifecycle: server / database / "
        "clients | server's cores busy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        rounds = ", ".join(f"{rate:.1f}" for rate in row["per_round_instances_per_s"])
        cpu = row.get("cpu_ms_per_lifecycle")
        cpu_text = f"{cpu['server']:.1f} / {cpu['database']:.1f} / {cpu['clients']:.1f}" if cpu else "–"
        busy = f"{cpu['server'] * row['instances_per_s'] / 1000:.2f}" if cpu else "–"
        lines.append(
            f"| {row['server']} | {row['processes']} | {row['lifecycles']} | {row['instances_per_s']:.1f} | {rounds} | "
            f"{cpu_text} | {busy} |"
        )
    lines += ["", f"2 processes / 1 process: **{data['ratio_two_to_one']:.2f}** ({_verdict(ok)})."]
    if "cores_for_two_busy_processes" in data:
        first, last = data["cores_for_two_busy_processes"]
        lines += [
            "",
            f"Two CPU-bound processes started by the benchmark got {first:.2f} cores of the machine just before the "
            f"rounds and {last:.2f} just after (the rest was taken by other work): what two web processes could get.",
        ]
    if "ceiling_ratio" in data:
        lines += [
            "",
            f"What the CPU time per lifecycle of 1 process allows 2 processes on {data['cores']} otherwise idle cores "
            "shared with the database and the clients (one process runs Python on one core at a time): "
            f"{data['ceiling_ratio']:.2f} ×.",
        ]

    def draw(axes) -> None:
        axes.bar([r["server"].replace(", ", "\n") for r in data["rows"]], [r["instances_per_s"] for r in data["rows"]])
        axes.set_ylabel("instances/s")
        axes.set_title(f"{data['clients']} clients, {data['backend']}")

    lines += ["", _plot(folder, "web_processes", draw)]
    return "\n".join(lines)


def faults_section(data: dict) -> str:
    run, goals = data["run"], data["goals"]
    fresh = data["fresh_start_median_seconds"]
    start, end = data["load_average_at_start"], data["load_average_at_end"]
    return "\n".join(
        [
            f"{run['instances']} instances of `tests/data/fault_run.bpmn` (service call, user task, 1 s timer, "
            f"buffered message) driven over HTTP by {data['clients']} clients through 2 `carecenter serve "
            f"--no-worker` processes, with 2 `carecenter worker` processes, on {data['backend']}; at 40 % one "
            "server and one worker (holding claims) got SIGKILL and were started again. A request whose server "
            "died was sent again to the other one. Goals: nothing lost or done twice; a server answers within "
            f"{goals['restart_seconds']:g} s of its start. Measured {data['measured']}, load average "
            f"{start[0]:.1f} at the start, {end[0]:.1f} at the end of the run.",
            "",
            "| instances | wall s | requests sent again | claims the killed worker held | calls made again "
            "| checks | killed server back after, s (CPU s) | fresh start after the run, s (CPU s) |",
            "|---|---|---|---|---|---|---|---|",
            f"| {run['instances']} | {run['seconds']:.1f} | {run['resent_requests']} | {run['killed_worker_claims']} "
            f"| {run['repeated_calls']} | {data['checks']} ({_verdict(data['checks'] == 'passed')}) "
            f"| {run['server_restart_seconds']:.1f} ({run['server_restart_cpu_seconds']:.2f}) "
            f"| {fresh:.1f} ({min(data['fresh_start_cpu_seconds']):.2f}–{max(data['fresh_start_cpu_seconds']):.2f}) "
            f"({_verdict(fresh <= goals['restart_seconds'])}) |",
            "",
            "Calls made again are calls of the killed worker's claims, made once more by the worker that took them "
            "over (same idempotency key): the operation's effect happens once. The checks (`tests/fault_run.py`): "
            "every instance completed, one per client key; in each history exactly one start, service-call "
            "completion, task completion, timer firing and message receipt; every job, timer and message done "
            "once; nothing left open; every read model equal to one recomputed from the stored workflow.",
        ]
    )


NOTES = PROJECT_ROOT / "bench" / "NOTES.md"


def analytics_section(data: dict) -> str:
    goal = data["goal_p95_ms"]
    lines = [
        f"The analytics reports ({data['transport']}), {data['backend']}, with the facts of "
        f"{data['instances']:,} instances of the review process over the past year, inserted in bulk in "
        f"{data['seed_seconds']} s ({data['instances_in_year_report']:,} in the year's report); "
        f"{data['samples']} requests per report in {data['rounds']} alternating rounds. Goal: p95 ≤ {goal} ms.",
        "",
        "| report | p50 / p95 / p99 ms | goal |",
        "|---|---|---|",
    ]
    for name, figures in data["reports"].items():
        lines.append(f"| {name} | {_ms(figures)} | {_verdict(figures['p95'] <= goal)} |")
    run = data["counting_run"]
    if any(figures["p95"] > goal for figures in data["reports"].values()):
        lines += [
            "",
            "A window of a whole year reads every one of its instances and about five visits each: the exact "
            "percentiles (nearest rank, `percentile_disc`) sort all their times, so these reports grow with the "
            "window. The default window is the last 30 days.",
        ]
    lines += [
        "",
        f"The worker's counting run: {run['instances']} instances that ran through the engine, counted in one run "
        f"in {run['seconds']} s ({run['ms_per_instance']} ms per instance).",
    ]
    return "\n".join(lines)


def render(folder: Path = RESULTS, target: Path = REPORT) -> str:
    """BENCHMARKS.md's text for the results in ``folder`` (plots are written next to them)."""
    sections: list[tuple[str, str | None]] = []
    machine = _load(folder, "machine")
    sections.append(("Machine", machine_section(machine) if machine else None))
    overhead = _load(folder, "overhead")
    sections.append(("1. Overhead against the bare library", overhead and overhead_section(overhead, folder)))
    scale = _load(folder, "scale")
    sections.append(("2. Scale", scale and scale_section(scale, folder)))
    timers = _load(folder, "timers")
    sections.append(("3. Timers", timers and timers_section(timers, folder)))
    size = _load(folder, "size")
    sections.append(("4. Cost per workflow size", size and size_section(size, folder)))
    sections.append(("5. Memory", scale and memory_section(scale)))
    profile = _load(folder, "profile")
    sections.append(("6. Profile of the worst figure", profile and profile_section(profile)))
    workspace = _load(folder, "workspace")
    sections.append(("7. Workspace search and customer page", workspace and workspace_section(workspace, folder)))
    mail = _load(folder, "mail")
    sections.append(("8. Mail", mail and mail_section(mail)))
    webhooks = _load(folder, "webhooks")
    sections.append(("9. Webhooks", webhooks and webhooks_section(webhooks)))
    calls = _load(folder, "calls")
    sections.append(("10. Screen pop", calls and calls_section(calls)))
    auth = _load(folder, "auth")
    sections.append(("11. Token check", auth and auth_section(auth)))
    web = _load(folder, "web_processes")
    sections.append(("12. Several web processes", web and web_processes_section(web, folder)))
    faults = _load(folder, "faults")
    sections.append(("13. Faults", faults and faults_section(faults)))
    analytics = _load(folder, "analytics")
    sections.append(("14. Analytics reports", analytics and analytics_section(analytics)))
    parts = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench`) from `bench/results/*.json`; do not edit by hand. "
        "Every comparison is a ratio of figures measured in the same run on the same machine. "
        "See [docs/bench.md](docs/bench.md) for what each section does and how to run it.",
    ]
    if NOTES.exists():
        parts += ["", NOTES.read_text().strip()]
    for title, body in sections:
        parts += ["", f"## {title}", "", body or "_No results for this section in this run._"]
    prefix = os.path.relpath(folder, target.parent)
    return "\n".join(parts).replace(PLOTS, "" if prefix == "." else f"{prefix}/") + "\n"


def write(folder: Path = RESULTS, target: Path = REPORT) -> Path:
    target.write_text(render(folder, target))
    return target


if __name__ == "__main__":
    print(write())
    sys.exit(0)
