#!/usr/bin/env python3
"""Instructions per forwarded SSE event and per short request, counted by callgrind in the proxy
process alone, for Sluice (empty chain, eight filters), nginx and HAProxy in the same run.

Started by bench/instructions.sh, which builds the release binary and strips its DWARF (valgrind 3.19
cannot read Swift's DWARF 5; function names stay). The count does not depend on how fast the machine
is or what else runs on it, so two runs of one commit agree to a fraction of a percent: this is the
figure to judge a change of the data path by. The wall-clock bench (run.sh) confirms it.

Each target runs with one worker under callgrind. A warm-up fills pools and lazy state, the counters
are zeroed, then STREAMS streams (53 events each from `sluice mock`: role, 50 tokens, finish, [DONE])
run one after another on one keep-alive connection (dump "stream"), then SHORT non-streamed requests
(dump "short"). Writes bench/results/instructions.{md,json} and keeps the dumps in
bench/results/tmp/instructions/TARGET/ for `--top`.

usage: instructions.py SLUICE_NODEBUG [--streams N] [--short N] [--targets a,b] [--top N] [--out NAME]
"""
import argparse
import collections
import datetime
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
CONFIGS = os.path.join(BENCH, "configs")
RESULTS = os.path.join(BENCH, "results")
WORK = os.path.join(RESULTS, "tmp", "instructions")
TARGETS = ["sluice-empty", "sluice-full", "nginx", "haproxy"]

BODY_STREAM = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hello there"}]}).encode()
BODY_SHORT = json.dumps({"model": "m", "stream": False, "messages": [{"role": "user", "content": "hi"}]}).encode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=120):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def recv_more(conn, buf):
    data = conn.recv(65536)
    if not data:
        raise IOError("connection closed mid-response")
    return buf + data


def exchange(port, stream, conn):
    """One request on a keep-alive connection; returns (SSE data events received, connection)."""
    body = BODY_STREAM if stream else BODY_SHORT
    if conn is None:
        conn = socket.create_connection(("127.0.0.1", port), timeout=60)
    conn.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf = recv_more(conn, buf)
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise IOError("status: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while not rest.endswith(b"0\r\n\r\n"):
            rest = recv_more(conn, rest)
        return rest.count(b"data: "), conn
    length = int(re.search(rb"content-length: *(\d+)", lower).group(1))
    while len(rest) < length:
        rest = recv_more(conn, rest)
    return 0, conn


def drive(port, streams, short):
    events = 0
    conn = None
    for _ in range(streams):
        n, conn = exchange(port, True, conn)
        events += n
    if conn:
        conn.close()
    conn = None
    for _ in range(short):
        _, conn = exchange(port, False, conn)
    if conn:
        conn.close()
    return events


def dump_total(directory, tag):
    """The instruction total of the dumps callgrind wrote for `callgrind_control -d TAG` (one per thread)."""
    total = 0
    for path in glob.glob(os.path.join(directory, "cg.out.*")):
        with open(path, errors="replace") as f:
            text = f.read()
        if f"Trigger: dump {tag}" not in text:
            continue
        m = re.search(r"^summary: (\d+)", text, re.M)
        if m:
            total += int(m.group(1))
    return total


def self_costs(path):
    """Self instructions per function in one callgrind dump: {name: count}. Reads the file itself, since
    callgrind_annotate 3.19 attributes dumps taken mid-run to `clone`."""
    names, cost = {}, collections.Counter()
    current, skip_next = None, False
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^(fn|cfn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                kind, index, name = m.groups()
                if name:
                    names[index] = name
                if kind == "fn":
                    current = index
                continue
            if line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) >= 2:
                    if skip_next:
                        skip_next = False
                    else:
                        cost[current] += int(parts[1])
    return {names.get(k, k): v for k, v in cost.items()}


def top_entries(directory, tag, count):
    merged = collections.Counter()
    for path in glob.glob(os.path.join(directory, "cg.out.*")):
        with open(path, errors="replace") as f:
            if f"Trigger: dump {tag}" not in f.read():
                continue
        merged.update(self_costs(path))
    total = sum(merged.values())
    ranked = merged.most_common(count)
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(n for n, _ in ranked),
                               capture_output=True, text=True).stdout.splitlines() if shutil.which("swift") else [n for n, _ in ranked]
    return total, [(v, d) for (_, v), d in zip(ranked, demangled)]


def command(target, binary, directory, port, admin, upstream):
    callgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/cg.out.%p", os.environ.get("CALLGRIND_DUMP_INSTR", "--dump-instr=no")]
    if target.startswith("sluice"):
        text = open(os.path.join(CONFIGS, target + ".yaml")).read()
        text = text.replace("@PORT@", str(port)).replace("@ADMIN@", str(admin)).replace("@UPSTREAM@", str(upstream))
        # No admin listener, so no console: its history takes a reading of every metric every 10 s on
        # the control thread, work paced by the clock rather than by the traffic. Under callgrind,
        # which runs the proxy about 50 times slower, one to three readings land in each dump, and
        # the count would move with how many did (nginx and HAProxy are counted without a status page).
        text = re.sub(r"^admin:\n(?:[ \t]+.*\n)+", "", text, flags=re.M)
        path = os.path.join(directory, "filters.yaml")
        open(path, "w").write(text)
        return callgrind + [binary, "run", "--config", path, "--workers", "1"]
    if target == "nginx":
        text = open(os.path.join(CONFIGS, "nginx.conf")).read()
        text = text.replace("@WORKERS@", "1").replace("@DIR@", directory).replace("@PORT@", str(port)).replace("@UPSTREAM@", str(upstream))
        # One process: the counted one. No reuseport, which only spreads connections over workers.
        text = text.replace("master_process on;", "master_process off;").replace(" reuseport", "")
        path = os.path.join(directory, "nginx.conf")
        open(path, "w").write(text)
        return callgrind + ["nginx", "-c", path, "-p", directory]
    if target == "haproxy":
        text = open(os.path.join(CONFIGS, "haproxy.cfg")).read()
        text = text.replace("@WORKERS@", "1").replace("@MAXCONN@", "4000").replace("@PORT@", str(port)).replace("@UPSTREAM@", str(upstream))
        path = os.path.join(directory, "haproxy.cfg")
        open(path, "w").write(text)
        return callgrind + ["haproxy", "-f", path, "-db"]
    raise ValueError(target)


def measure(target, binary, upstream, streams, short, top):
    directory = os.path.join(WORK, target)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    port, admin = free_port(), free_port()
    proc = subprocess.Popen(command(target, binary, directory, port, admin, upstream),
                            stdout=open(os.path.join(directory, "stdout"), "w"),
                            stderr=open(os.path.join(directory, "stderr"), "w"), start_new_session=True)
    try:
        if not wait_port(port, proc):
            return {"error": "did not listen"}
        drive(port, 20, 50)  # warm-up: pools, caches, lazy initialisation
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, timeout=120)
        events = drive(port, streams, 0)
        subprocess.run(["callgrind_control", "-d", "stream", str(proc.pid)], capture_output=True, timeout=120)
        drive(port, 0, short)
        subprocess.run(["callgrind_control", "-d", "short", str(proc.pid)], capture_output=True, timeout=120)
        time.sleep(0.5)
        stream_ir, short_ir = dump_total(directory, "stream"), dump_total(directory, "short")
        result = {"events": events, "streams": streams, "short_requests": short,
                  "ir_streams": stream_ir, "ir_short": short_ir,
                  "ir_per_event": stream_ir / max(events, 1), "ir_per_short_request": short_ir / max(short, 1)}
        if top and target.startswith("sluice"):
            for tag in ("stream", "short"):
                total, entries = top_entries(directory, tag, top)
                result[f"top_{tag}"] = [{"ir": v, "share": v / max(total, 1), "function": name} for v, name in entries]
        return result
    finally:
        try:
            os.killpg(proc.pid, signal.SIGQUIT if target == "nginx" else signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def version():
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--", "Sources", "Package.swift"]).returncode != 0
    return rev + ("-dirty" if dirty else "")


def markdown(run):
    results = run["results"]
    nginx = results.get("nginx", {})
    lines = [f"# Instructions per event and per request ({run['version']}, {run['date']})", "",
             "Counted by callgrind in the proxy process alone, one worker, user space only "
             f"(`bench/instructions.sh`): {run['streams']} streams of 53 events, then {run['short']} short "
             "keep-alive requests. Independent of the machine's speed, within about 2% from run to run: "
             "compare commits by these, confirm with `bench/run.sh`.", "",
             "| target | instructions per forwarded event | vs nginx | instructions per short request | vs nginx |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | not measured: {r['error']} | | | |")
            continue
        def vs(key):
            return f"{r[key] / nginx[key]:.2f}×" if nginx.get(key) else "n/a"
        lines.append(f"| {name} | {r['ir_per_event']:,.0f} | {vs('ir_per_event')} | "
                     f"{r['ir_per_short_request']:,.0f} | {vs('ir_per_short_request')} |")
    goals = []
    if nginx.get("ir_per_event"):
        def goal(target, key, limit, text):
            r = results.get(target, {})
            if key in r:
                ratio = r[key] / nginx[key]
                goals.append(f"- {text}: {ratio:.2f}× (goal ≤ {limit}×): {'met' if ratio <= limit else 'missed'}")
        goal("sluice-empty", "ir_per_event", 2, "per forwarded event, empty chain")
        goal("sluice-full", "ir_per_event", 3, "per forwarded event, eight filters")
        goal("sluice-full", "ir_per_short_request", 3, "per short request, eight filters")
    if goals:
        lines += ["", "Targets (issue 13):", ""] + goals
    for name, r in results.items():
        for tag, label in (("top_stream", "streams"), ("top_short", "short requests")):
            if r.get(tag):
                lines += ["", f"## {name}: top self cost, {label}", "", "| share | instructions | function |", "|---|---|---|"]
                for e in r[tag]:
                    fn = e["function"].replace("|", "\\|")[:140]
                    lines.append(f"| {100 * e['share']:.1f}% | {e['ir']:,} | `{fn}` |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--short", type=int, default=500)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default="instructions")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    upstream = free_port()
    mock = subprocess.Popen([args.binary, "mock", "--listen", f"127.0.0.1:{upstream}", "--ttft", "5ms", "--tps", "1000",
                             "--tokens", "50"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = {}
    try:
        if not wait_port(upstream, mock):
            sys.exit("instructions: the mock did not listen")
        for target in args.targets.split(","):
            print(f"instructions: {target}", file=sys.stderr, flush=True)
            try:
                results[target] = measure(target, args.binary, upstream, args.streams, args.short, args.top)
            except (IOError, OSError, subprocess.SubprocessError) as e:
                results[target] = {"error": str(e)}
            r = results[target]
            print(json.dumps({target: {k: v for k, v in r.items() if not k.startswith("top_")}}), file=sys.stderr, flush=True)
    finally:
        os.killpg(mock.pid, signal.SIGKILL)
        mock.wait(timeout=10)
    run = {"version": version(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "streams": args.streams, "short": args.short, "results": results}
    with open(os.path.join(RESULTS, args.out + ".json"), "w") as f:
        json.dump(run, f, indent=1)
    text = markdown(run)
    with open(os.path.join(RESULTS, args.out + ".md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
