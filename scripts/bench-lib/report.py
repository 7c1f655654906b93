#!/usr/bin/env python3
"""Prints the benchmark table from the raw results scripts/bench gathered.

usage: report.py RESULTS SERVERS PEERS SCENARIO=LABEL...
RESULTS holds one measurement a line: "round scenario server metric value" (tab-separated).
SERVERS is the row order (comma-separated), PEERS the servers shoal is compared with.
Every figure is the median over rounds; "shoal/best peer" divides shoal's median by the best
peer median of the same column (highest req/s, lowest of the rest), and "shoal/shoal-base",
printed when SERVERS holds shoal-base (an older shoal, for A/B runs), by shoal-base's. In the
cpu column a server whose own CPU time exceeds its core's busy time (which /proc/stat samples
at ticks) is ranked by its own time, the figure that cannot undercount.
"""
import statistics
import sys
from collections import defaultdict

# column key, title, width, format, True when higher is better
COLUMNS = [
    ("rps", "req/s", 9, "{:.0f}", True),
    ("p99", "p99 ms", 8, "{:.2f}", False),
    ("cpu", "cpu us/req", 11, "{:.2f}", False),
    ("spread", "+-%", 4, "{:.0f}", None),
    ("proc", "own us/req", 11, "{:.2f}", False),
    ("other", "other%", 6, "{:.0f}", None),
    ("idle", "B/idle conn", 11, "{:.0f}", False),
]
LABEL_WIDTH = 30
SERVER_WIDTH = 17
BASE = "shoal-base"


def load(path):
    values = defaultdict(list)
    with open(path) as results:
        for line in results:
            fields = line.split()
            if len(fields) == 5:
                _, scenario, server, metric, value = fields
                values[scenario, server, metric].append(float(value))
    return values


def medians(values, scenario, server):
    row = {}
    for key, *_ in COLUMNS:
        series = values.get((scenario, server, key))
        if series:
            row[key] = statistics.median(series)
    cpu = values.get((scenario, server, "cpu"))
    if cpu and len(cpu) > 1 and row["cpu"] > 0:
        row["spread"] = (max(cpu) - min(cpu)) / 2 / row["cpu"] * 100
    errors = values.get((scenario, server, "errors"), [])
    row["errors"] = sum(errors)
    return row


def cells(row, formatter):
    return " ".join(formatter(key, fmt, better, width, row.get(key))
                    for key, _, width, fmt, better in COLUMNS)


def value_cell(key, fmt, better, width, value):
    return ("-" if value is None else fmt.format(value)).rjust(width)


def ranked(row, key):
    if key == "cpu":
        return max(row["cpu"], row.get("proc", 0))
    return row[key]


def ratios(rows, others):
    """shoal's figure over the best of others' in each column; and which one was best, by column."""
    shoal = rows["shoal"]
    best_name = {}

    def ratio_cell(key, fmt, better, width, value):
        candidates = [(ranked(rows[p], key), p) for p in others if key in rows.get(p, {})]
        if better is None or key not in shoal or not candidates:
            return "".rjust(width)
        best, name = max(candidates) if better else min(candidates)
        best_name[key] = name
        return ("x{:.2f}".format(ranked(shoal, key) / best) if best else "-").rjust(width)

    return cells(shoal, ratio_cell), best_name


def ratio_lines(label, rows, peers):
    lines = []
    if any(p in rows for p in peers):
        text, best_name = ratios(rows, peers)
        rank = "cpu" if "cpu" in best_name else "idle"
        note = f"  (best {rank}: {best_name[rank]})" if rank in best_name else ""
        lines.append(f"{label:<{LABEL_WIDTH}} {'shoal/best peer':<{SERVER_WIDTH}} {text}{note}")
    if BASE in rows:
        text, _ = ratios(rows, [BASE])
        lines.append(f"{label:<{LABEL_WIDTH}} {'shoal/' + BASE:<{SERVER_WIDTH}} {text}")
    return lines


def main():
    values = load(sys.argv[1])
    servers = [s for s in sys.argv[2].split(",") if s]
    peers = [s for s in sys.argv[3].split(",") if s]
    scenarios = [arg.split("=", 1) for arg in sys.argv[4:]]
    header = " ".join(title.rjust(width) for _, title, width, _, _ in COLUMNS)
    print(f"{'scenario':<{LABEL_WIDTH}} {'server':<{SERVER_WIDTH}} {header}")
    for key, label in scenarios:
        rows = {s: medians(values, key, s) for s in servers}
        rows = {s: r for s, r in rows.items() if len(r) > 1}
        for server, row in rows.items():
            flag = f"  ! {row['errors']:.0f} errors" if row["errors"] else ""
            if row.get("proc", 0) > 1.1 * row.get("cpu", float("inf")):
                # /proc/stat samples the core at ticks: work that wakes on timers falls between
                flag += "  ! cpu < own: the core's tick-sampled time undercounts"
            print(f"{label:<{LABEL_WIDTH}} {server:<{SERVER_WIDTH}} {cells(row, value_cell)}{flag}")
            label = ""
        if "shoal" in rows:
            for line in ratio_lines(label, rows, peers):
                print(line)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
