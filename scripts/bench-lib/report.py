#!/usr/bin/env python3
"""Prints the benchmark table from the raw results scripts/bench gathered.

usage: report.py RESULTS SERVERS PEERS SCENARIO=LABEL[=RANK]...
RESULTS holds one measurement a line: "round scenario server metric value" (tab-separated).
SERVERS is the row order (comma-separated), PEERS the servers shoal is compared with.
Every figure is the median over rounds; "shoal/best peer" divides shoal's median by the best
peer median of the same column (highest req/s and MB/s, lowest of the rest); a scenario given
a RANK column (cpu or mbps) adds to every row its figure there divided by the best peer's
("vs best"), and flags a proxy that closed upstream connections during a run, beyond one a
client (churn, a median over rounds); "shoal/shoal-base",
printed when SERVERS holds shoal-base (an older shoal, for A/B runs), by shoal-base's;
"shoal-limit/shoal" and "shoal-limit/shoal-loc", printed when SERVERS holds shoal-limit (shoal
with a rate zone never reached, and shoal-loc its location without the zone: scripts/bench
LIMIT=1), divide shoal-limit's median by theirs, and lines "per round" give shoal-limit's
cpu and own CPU time divided by theirs in each round both ran, and the median of those. In the
cpu column a server whose own CPU time exceeds its core's busy time (which /proc/stat samples
at ticks) is ranked by its own time, the figure that cannot undercount. The TLS scenarios add
"resumed%" (handshakes the server resumed; tls-resume is flagged below 99%, tls-full above 0)
and, where the kernel offers TLS, "kTLS" (connections that got it); like MB/s, a column shows
only when some run measured it.
"""
import itertools
import statistics
import sys
from collections import defaultdict

# column key, title, width, format, True when higher is better
COLUMNS = [
    ("rps", "req/s", 9, "{:.0f}", True),
    ("mbps", "MB/s", 7, "{:.0f}", True),
    ("p99", "p99 ms", 8, "{:.2f}", False),
    ("cpu", "cpu us/req", 11, "{:.2f}", False),
    ("spread", "+-%", 4, "{:.0f}", None),
    ("proc", "own us/req", 11, "{:.2f}", False),
    ("other", "other%", 6, "{:.0f}", None),
    ("idle", "B/idle conn", 11, "{:.0f}", False),
    ("resumed", "resumed%", 8, "{:.1f}", None),
    ("ktls", "kTLS", 6, "{:.0f}", None),
]
OPTIONAL = ("mbps", "resumed", "ktls")  # columns shown only when some run measured them
LABEL_WIDTH = 30
VS_WIDTH = 7
SERVER_WIDTH = 17
BASE = "shoal-base"
LIMITED = "shoal-limit"
LOCATION = "shoal-loc"


def load(path):
    """The figures by (scenario, server, metric), in round order; and by round too."""
    values = defaultdict(list)
    by_round = {}
    with open(path) as results:
        for line in results:
            fields = line.split()
            if len(fields) == 5:
                round_, scenario, server, metric, value = fields
                values[scenario, server, metric].append(float(value))
                by_round[round_, scenario, server, metric] = float(value)
    return values, by_round


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
    churn = values.get((scenario, server, "churn"))
    if churn:
        row["churn"] = statistics.median(churn)
    return row


def resumption_flag(scenario, row):
    """A TLS run whose handshakes were not what its scenario is named for."""
    resumed = row.get("resumed")
    if resumed is None:
        return ""
    if scenario == "tls-resume" and resumed < 99:
        return f"  ! only {resumed:.1f}% resumed"
    if scenario == "tls-full" and resumed > 0:
        return f"  ! {resumed:.1f}% resumed, not full handshakes"
    return ""


def cells(row, formatter, columns):
    return " ".join(formatter(key, fmt, better, width, row.get(key))
                    for key, _, width, fmt, better in columns)


def value_cell(key, fmt, better, width, value):
    return ("-" if value is None else fmt.format(value)).rjust(width)


def ranked(row, key):
    if key == "cpu":
        return max(row["cpu"], row.get("proc", 0))
    return row[key]


def best_peer(rows, peers, key):
    """The best peer figure of column key, and whose it is; None when no peer has one."""
    better = next(b for k, _, _, _, b in COLUMNS if k == key)
    candidates = [(ranked(rows[p], key), p) for p in peers if key in rows.get(p, {})]
    if not candidates:
        return None
    return max(candidates) if better else min(candidates)


def vs_best(row, best, key):
    if best is None or key not in row or not best[0]:
        return ""
    return "x{:.2f}".format(ranked(row, key) / best[0])


def ratios(rows, others, columns, name="shoal"):
    """name's figure over the best of others' in each column; and which one was best, by column."""
    shoal = rows[name]
    best_name = {}

    def ratio_cell(key, fmt, better, width, value):
        candidates = [(ranked(rows[p], key), p) for p in others if key in rows.get(p, {})]
        if better is None or key not in shoal or not candidates:
            return "".rjust(width)
        best, name = max(candidates) if better else min(candidates)
        best_name[key] = name
        return ("x{:.2f}".format(ranked(shoal, key) / best) if best else "-").rjust(width)

    return cells(shoal, ratio_cell, columns), best_name


def ratio_lines(label, rows, peers, rank, columns):
    lines = []
    if any(p in rows for p in peers):
        text, best_name = ratios(rows, peers, columns)
        rank = rank or ("cpu" if "cpu" in best_name else "idle")
        note = f"  (best {rank}: {best_name[rank]})" if rank in best_name else ""
        lines.append(f"{label:<{LABEL_WIDTH}} {'shoal/best peer':<{SERVER_WIDTH}} {text}{note}")
    if BASE in rows:
        text, _ = ratios(rows, [BASE], columns)
        lines.append(f"{label:<{LABEL_WIDTH}} {'shoal/' + BASE:<{SERVER_WIDTH}} {text}")
    for other in ("shoal", LOCATION) if LIMITED in rows else ():
        if other in rows:
            text, _ = ratios(rows, [other], columns, LIMITED)
            lines.append(f"{label:<{LABEL_WIDTH}} {LIMITED + '/' + other:<{SERVER_WIDTH}} {text}")
    return lines


def per_round(by_round, scenario, name, other, metric):
    """name's figure over other's, in each round both ran: own CPU time (metric proc), or cpu
    ranked as in the table (the larger of cpu and own)."""
    def figure(round_, server):
        value = by_round.get((round_, scenario, server, metric))
        if value is None or metric != "cpu":
            return value
        return max(value, by_round.get((round_, scenario, server, "proc"), 0))

    rounds = sorted({k[0] for k in by_round if k[1] == scenario}, key=int)
    pairs = [(figure(r, name), figure(r, other)) for r in rounds]
    return [a / b for a, b in pairs if a is not None and b]


def per_round_lines(by_round, scenario, rows):
    """shoal-limit's cpu and own CPU time over shoal's and shoal-loc's, round by round."""
    lines = []
    for other, metric in itertools.product(("shoal", LOCATION), ("cpu", "proc")):
        paired = per_round(by_round, scenario, LIMITED, other, metric) if other in rows else []
        if paired:
            text = " ".join("x{:.3f}".format(r) for r in paired)
            what = "cpu" if metric == "cpu" else "own"
            lines.append(f"{'':<{LABEL_WIDTH}} {'  per round':<{SERVER_WIDTH}} {what} {LIMITED}/{other}: "
                         f"{text}  (median x{statistics.median(paired):.3f})")
    return lines


def main():
    global SERVER_WIDTH
    values, by_round = load(sys.argv[1])
    servers = [s for s in sys.argv[2].split(",") if s]
    if LIMITED in servers:
        SERVER_WIDTH = len(LIMITED + "/" + LOCATION)
    peers = [s for s in sys.argv[3].split(",") if s]
    scenarios = [(arg.split("=") + [""])[:3] for arg in sys.argv[4:]]
    # MB/s only where it was measured (the proxy scenarios), and so the TLS figures
    columns = [c for c in COLUMNS if c[0] not in OPTIONAL or any(k[2] == c[0] for k in values)]
    header = " ".join(title.rjust(width) for _, title, width, _, _ in columns)
    if any(rank for _, _, rank in scenarios):
        header += " " + "vs best".rjust(VS_WIDTH)
    print(f"{'scenario':<{LABEL_WIDTH}} {'server':<{SERVER_WIDTH}} {header}")
    for key, label, rank in scenarios:
        rows = {s: medians(values, key, s) for s in servers}
        rows = {s: r for s, r in rows.items() if len(r) > 1}
        best = best_peer(rows, peers, rank) if rank else None
        for server, row in rows.items():
            vs = " " + vs_best(row, best, rank).rjust(VS_WIDTH) if rank else ""
            flag = f"  ! {row['errors']:.0f} errors" if row["errors"] else ""
            flag += resumption_flag(key, row)
            if row.get("churn"):
                flag += f"  ! pool churn: {row['churn']:.0f} upstream connections closed"
            if row.get("proc", 0) > 1.1 * row.get("cpu", float("inf")):
                # /proc/stat samples the core at ticks: work that wakes on timers falls between
                flag += "  ! cpu < own: the core's tick-sampled time undercounts"
            print(f"{label:<{LABEL_WIDTH}} {server:<{SERVER_WIDTH}} {cells(row, value_cell, columns)}{vs}{flag}")
            label = ""
        if "shoal" in rows:
            for line in ratio_lines(label, rows, peers, rank, columns):
                print(line)
        if LIMITED in rows:
            for line in per_round_lines(by_round, key, rows):
                print(line)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
