#!/usr/bin/env python3
"""Hedge bench: time to first token with and without the `hedge` filter, in front of two mock
endpoints whose first-token times follow a long-tailed (lognormal) distribution.

Starts two `sluice mock` processes (each drawing its ttft per request from a seeded lognormal),
then, for each configuration, a `sluice run` with a two-endpoint round-robin group, and sends N
streamed chat requests at a fixed concurrency. Measures per request the time from sending it to
the first content event (the client's TTFT), and reads the extra upstream requests from
`sluice_hedges_total{result="started"}` on /metrics. Every loop is bounded: N requests, a
per-request timeout, a bounded start wait. Writes bench/results/hedge.md and hedge.json.

    python3 bench/hedge.py --sluice .build-release/release/sluice [--requests 400] [--concurrency 8]
"""
import argparse, http.client, json, os, platform, signal, socket, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TMP = os.path.join(ROOT, "bench", "results", "tmp")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def start(args, log):
    out = open(os.path.join(TMP, log), "w")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def filter_file(port, admin, mocks, hedge):
    chain = "[]" if hedge is None else f"\n      - filter: hedge\n        config: {hedge}"
    return f"""listeners:
  - name: bench
    address: 127.0.0.1:{port}
admin:
  address: 127.0.0.1:{admin}
access_log:
  output: off
upstreams:
  pair:
    balance: round_robin
    endpoints: ["http://127.0.0.1:{mocks[0]}", "http://127.0.0.1:{mocks[1]}"]
routes:
  - path_prefix: /
    chain: main
    upstream: pair
chains:
  main: {chain}
"""


BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True})


def one_request(port, timeout):
    """Seconds to the first content event, and whether the stream ended with [DONE]."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=BODY, headers={"content-type": "application/json"})
    response = conn.getresponse()
    first = None
    done = False
    while True:
        line = response.readline()
        if not line:
            break
        if first is None and line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line:
            first = time.perf_counter() - started
        if line.strip() == b"data: [DONE]":
            done = True
    conn.close()
    return first, done and response.status == 200


def run_load(port, requests, concurrency, timeout):
    results = []
    lock = threading.Lock()
    next_index = [0]

    def worker():
        while True:
            with lock:
                if next_index[0] >= requests:
                    return
                next_index[0] += 1
            try:
                ttft, ok = one_request(port, timeout)
            except Exception:
                ttft, ok = None, False
            with lock:
                results.append((ttft, ok))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def quantile(values, q):
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))
    return ordered[index]


def scrape(admin, name, labels):
    conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", default=os.path.join(ROOT, ".build-release", "release", "sluice"))
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ttft", default="lognormal:150ms:1")
    parser.add_argument("--timeout", type=float, default=60)
    options = parser.parse_args()
    os.makedirs(TMP, exist_ok=True)
    configs = [
        ("no hedge", None),
        ("hedge after 300ms", "{ after: 300ms, budget_ratio: 1, budget_min: 8 }"),
        ("hedge after p95", "{ after: p95, after_min: 50ms, after_max: 1s, budget_ratio: 1, budget_min: 8 }"),
    ]
    mocks = [free_port(), free_port()]
    rows = []
    for label, hedge in configs:
        # Fresh mocks per configuration: each run sees the same seeded sequence of draws per endpoint.
        procs = [start([options.sluice, "mock", "--listen", f"127.0.0.1:{mocks[i]}", "--ttft", options.ttft,
                        "--seed", str(i + 1), "--tps", "200", "--tokens", "20"], f"hedge-mock-{i}.log") for i in range(2)]
        port, admin = free_port(), free_port()
        path = os.path.join(TMP, "hedge.yaml")
        with open(path, "w") as f:
            f.write(filter_file(port, admin, mocks, hedge))
        proxy = start([options.sluice, "run", "--config", path, "--workers", "2"], "hedge-sluice.log")
        try:
            for p in mocks + [port, admin]:
                wait_port(p)
            # A few requests first so `after: p95` has measured first tokens; not counted.
            warm = run_load(port, 40, options.concurrency, options.timeout)
            started_before = scrape(admin, "sluice_hedges_total", {"result": "started"})
            began = time.time()
            results = run_load(port, options.requests, options.concurrency, options.timeout)
            elapsed = time.time() - began
            extra = scrape(admin, "sluice_hedges_total", {"result": "started"}) - started_before
            won = scrape(admin, "sluice_hedges_total", {"result": "won"})
        finally:
            stop(proxy)
            for p in procs:
                stop(p)
        ttfts = [t for t, ok in results if t is not None]
        rows.append({
            "config": label, "hedge": hedge, "requests": options.requests, "completed": sum(1 for _, ok in results if ok),
            "ttft_p50_ms": round(1000 * quantile(ttfts, 0.5), 1), "ttft_p90_ms": round(1000 * quantile(ttfts, 0.9), 1),
            "ttft_p99_ms": round(1000 * quantile(ttfts, 0.99), 1), "ttft_max_ms": round(1000 * max(ttfts), 1),
            "extra_upstream_requests": int(extra), "extra_share": round(extra / options.requests, 3),
            "hedges_won_incl_warmup": int(won), "seconds": round(elapsed, 1), "warmup_requests": len(warm),
        })
        print(json.dumps(rows[-1]), file=sys.stderr)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    with open(os.path.join(ROOT, "bench", "results", "hedge.json"), "w") as f:
        json.dump({"machine": machine, "ttft": options.ttft, "concurrency": options.concurrency, "rows": rows}, f, indent=2)
    lines = [
        "# Hedge bench: time to first token with and without `hedge`", "",
        f"Two `sluice mock` endpoints, each drawing its time to first token per request from `{options.ttft}` "
        f"(lognormal, seeds 1 and 2), 200 tokens/s, 20 tokens. `sluice run` (binary `{os.path.relpath(options.sluice, ROOT)}`, "
        f"2 workers) balances them round robin. {options.requests} streamed requests per configuration, "
        f"{options.concurrency} at a time, after 40 warm-up requests (not counted). TTFT is measured by the client, "
        "from sending the request to the first content event. Extra upstream requests are the hedges started "
        "(`sluice_hedges_total{result=\"started\"}`), as a share of the requests. Made by `bench/hedge.py`.", "",
        "| configuration | completed | TTFT p50 | TTFT p90 | TTFT p99 | TTFT max | extra upstream requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['config']} | {r['completed']}/{r['requests']} | {r['ttft_p50_ms']} ms | {r['ttft_p90_ms']} ms | "
                     f"{r['ttft_p99_ms']} ms | {r['ttft_max_ms']} ms | {r['extra_upstream_requests']} ({100 * r['extra_share']:.1f}%) |")
    base = rows[0]
    for r in rows[1:]:
        lines.append("")
        lines.append(f"With {r['config']}: p99 {base['ttft_p99_ms']} ms → {r['ttft_p99_ms']} ms, p50 {base['ttft_p50_ms']} ms → "
                     f"{r['ttft_p50_ms']} ms, for {100 * r['extra_share']:.1f}% more upstream requests.")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines += ["", f"Machine: {machine}. Commit: {commit}. Figures of one run; the raw ones are in `hedge.json`.", ""]
    with open(os.path.join(ROOT, "bench", "results", "hedge.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
