#!/usr/bin/env python3
"""Alternates a stats reader off and on while one long load runs, and compares the phases.

usage: stats_phases.py STATS_FILE READER_PID PHASES PHASE_SECS SERVER_CPU

The reader (a process reading the stats file) is stopped with SIGSTOP during "off" phases and
continued with SIGCONT during "on" phases, in the order off, on, off, on, ... Every phase
boundary samples the server's request total (read from the stats file itself, through its
public layout, as any third-party reader would) and the busy time of SERVER_CPU from
/proc/stat. Because the load never restarts, connection setup and slow drift of the machine
stay out of the comparison: each "on" phase is compared with the mean of the "off" phases on
either side of it.

Prints one line per phase, then the summary lines "throughput", "server_cpu" (percentage
changes, mean and 95% interval over the pairs) and "reader_cpu" (the reader's own CPU time
while on, as a percentage of one core).
"""
import math
import mmap
import os
import signal
import statistics
import struct
import sys
import time

HEADER = struct.Struct("=8sIIII QQ II Q QQQQ I")
SLOT_HEAD = struct.Struct("=Q IIII")
REQUESTS = 6
FREE = 0


def read_requests(mm):
    """The total of requests, copied under the file's sequence numbers (see stats.h)."""
    for _ in range(1000):
        (magic, version, _hsize, slot_size, capacity, retired_off, slots_off, _pid, _room,
         _start, seq, _gen, _upd, _retired_workers, used) = HEADER.unpack_from(mm, 0)
        if magic != b"SHOALSTS" or version != 4:
            sys.exit(f"stats_phases: not a layout-4 shoal stats file ({magic!r}, {version})")
        if seq & 1:
            continue
        total = struct.unpack_from("=Q", mm, retired_off + 8 * REQUESTS)[0]
        for i in range(min(used, capacity)):
            off = slots_off + i * slot_size
            for _ in range(100):
                slot_seq, _wpid, _wslot, _wgen, state = SLOT_HEAD.unpack_from(mm, off)
                n = struct.unpack_from("=Q", mm, off + 64 + 8 * REQUESTS)[0]
                if not slot_seq & 1 and struct.unpack_from("=Q", mm, off)[0] == slot_seq:
                    break
            if state != FREE:
                total += n
        if struct.unpack_from("=Q", mm, 56)[0] == seq:
            return total
    sys.exit("stats_phases: the stats file stayed in mid-update")


def cpu_busy_ticks(cpu):
    with open("/proc/stat") as f:
        for line in f:
            fields = line.split()
            if fields[0] == f"cpu{cpu}":
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
                return user + nice + system + irq + softirq + steal
    sys.exit(f"stats_phases: no cpu{cpu} in /proc/stat")


def process_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def interval(values):
    """Mean and half-width of a 95% interval (normal approximation)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, 1.96 * statistics.stdev(values) / math.sqrt(len(values))


def main():
    path, reader, phases, phase_secs, cpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        float(sys.argv[4]), int(sys.argv[5])
    hz = os.sysconf("SC_CLK_TCK")
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    os.kill(reader, signal.SIGSTOP)
    rows = []
    reader_on_ticks = 0
    reader_on_secs = 0.0
    prev = (time.monotonic(), read_requests(mm), cpu_busy_ticks(cpu), process_ticks(reader))
    for phase in range(phases):
        on = phase % 2 == 1
        os.kill(reader, signal.SIGCONT if on else signal.SIGSTOP)
        time.sleep(phase_secs)
        now = (time.monotonic(), read_requests(mm), cpu_busy_ticks(cpu), process_ticks(reader))
        secs, reqs, busy = now[0] - prev[0], now[1] - prev[1], now[2] - prev[2]
        if reqs <= 0:
            sys.exit("stats_phases: no requests counted in a phase: is the load running?")
        rps, us_per_req = reqs / secs, busy * 1e6 / hz / reqs
        if on:
            reader_on_ticks += now[3] - prev[3]
            reader_on_secs += secs
        rows.append((on, rps, us_per_req))
        print(f"phase {phase + 1:3d} reader {'on ' if on else 'off'} {rps:10.0f} req/s "
              f"{us_per_req:7.3f} cpu{cpu} us/req")
        prev = now
    os.kill(reader, signal.SIGCONT)

    rps_change, cpu_change = [], []
    for i in range(1, len(rows) - 1, 2):
        off_rps = (rows[i - 1][1] + rows[i + 1][1]) / 2
        off_cpu = (rows[i - 1][2] + rows[i + 1][2]) / 2
        rps_change.append((rows[i][1] - off_rps) * 100 / off_rps)
        cpu_change.append((rows[i][2] - off_cpu) * 100 / off_cpu)
    if not rps_change:
        sys.exit("stats_phases: at least 3 phases are needed")
    for name, values in (("throughput", rps_change), ("server_cpu", cpu_change)):
        mean, half = interval(values)
        print(f"{name} {mean:+.2f} {half:.2f} {len(values)}")
    print(f"reader_cpu {reader_on_ticks * 100 / hz / reader_on_secs:.2f}")


if __name__ == "__main__":
    main()
