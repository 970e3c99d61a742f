#!/usr/bin/env python3
"""Runs every benchmark scenario against every target and writes bench/results/latest.{md,json,png}.

Started by bench/run.sh, which installs the peers and builds the binaries first. Every process this
script starts runs in its own session and is killed (the whole group) when its step ends, on error,
and at exit. Every loop is bounded in count and time. Loopback only.
"""
import argparse
import atexit
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")
TMP = os.path.join(RESULTS, "tmp")
SLUICE = os.path.join(ROOT, ".build", "release", "sluice")
LOADGEN = os.path.join(BENCH, ".build", "release", "sluice-load")
CORES = os.cpu_count() or 2
# With --pin, every target runs one worker on CPU 0 and everything else (the mock, the load generator,
# Redis) runs on CPU 1, so the target never competes with the load for a core: set by main().
PIN = {"on": False}


def workers():
    return 1 if PIN["on"] else CORES


def pinned(args, cpu):
    """`args` under `taskset -c CPU` when pinning is on."""
    if PIN["on"] and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)] + list(args)
    return list(args)

MOCK_PORT = 18000
PORTS = {"direct": MOCK_PORT, "sluice-empty": 18101, "sluice-full": 18102, "nginx": 18103,
         "haproxy": 18104, "litellm": 18105, "sluice-shared": 18106, "sluice-shared-batch": 18107}
TARGETS = ["direct", "sluice-empty", "sluice-full", "sluice-shared", "sluice-shared-batch", "nginx", "haproxy", "litellm"]
# The targets whose limits are shared through Redis: exact (`shared: true`, one script per request) and
# in batch mode (`shared: { batch: N }`, most requests answered from what the instance holds).
SHARED = ("sluice-shared", "sluice-shared-batch")
# The Redis that the shared targets' limits live in (redis-server, started and stopped with the target).
REDIS_PORT = 18110
LABELS = {"direct": "direct (mock)", "sluice-empty": "Sluice, empty chain", "sluice-full": "Sluice, 8 filters",
          "sluice-shared": "Sluice, 8 filters, 3 shared",
          "sluice-shared-batch": "Sluice, 8 filters, 3 shared in batch mode", "nginx": "nginx", "haproxy": "HAProxy", "litellm": "LiteLLM"}

# LiteLLM refuses to start without a master key; every target gets the same bearer token.
AUTH = "sk-bench-" + os.urandom(16).hex()
children = []  # Popen objects, each the leader of its own process group


def log(msg):
    print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def kill(proc, grace=3.0):
    if proc is None or proc.poll() is not None:
        if proc in children:
            children.remove(proc)
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.time() + grace
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
    if proc in children:
        children.remove(proc)


def kill_all():
    for p in list(children):
        kill(p, grace=1.0)


atexit.register(kill_all)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, lambda s, f: (kill_all(), sys.exit(128 + s)))


def spawn(args, name, env=None):
    out = open(os.path.join(TMP, f"{name}.log"), "ab")
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env, cwd=ROOT)
    children.append(proc)
    return proc


def wait_port(port, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def exchange_bytes(port, payload, timeout, complete=lambda data: False):
    """Sends `payload` on a fresh loopback connection and reads until the peer closes, `complete`
    says the answer is whole, 1 MB, or `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(payload)
        data = b""
        deadline = time.time() + timeout
        while time.time() < deadline and len(data) < 1_000_000:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if complete(data):
                break
        return data


def http_probe(port, stream, timeout):
    """One small request through the target; True on a 200. Bounded by `timeout`."""
    body = json.dumps({"model": "bench", "stream": stream, "max_tokens": 1,
                       "messages": [{"role": "user", "content": "probe"}]})
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
           f"authorization: Bearer {AUTH}\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n{body}")
    try:
        data = exchange_bytes(port, req.encode(), timeout)
        return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"), data[:300]
    except OSError as e:
        return False, str(e).encode()


def redis_reply_complete(data):
    """True once `data` holds a whole status, error or bulk-string reply (what the driver asks for)."""
    if data[:1] in (b"+", b"-", b":"):
        return data.endswith(b"\r\n")
    if data.startswith(b"$"):
        head, _, rest = data.partition(b"\r\n")
        return bool(_) and len(rest) >= int(head[1:]) + 2
    return False


def redis_command(*parts, timeout=5.0):
    """One command to the bench Redis over a fresh connection; the raw reply bytes."""
    body = f"*{len(parts)}\r\n" + "".join(f"${len(str(p).encode())}\r\n{p}\r\n" for p in parts)
    return exchange_bytes(REDIS_PORT, body.encode(), timeout, redis_reply_complete)


def redis_script_calls():
    """EVALSHA and EVAL calls since the last CONFIG RESETSTAT, from INFO commandstats."""
    info = redis_command("INFO", "commandstats").decode(errors="replace")
    return sum(int(m.group(1)) for m in re.finditer(r"cmdstat_(?:evalsha|eval):calls=(\d+)", info))


def render(template, out_name, **values):
    with open(os.path.join(BENCH, "configs", template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    path = os.path.join(TMP, out_name)
    with open(path, "w") as f:
        f.write(text)
    return path


class NotSetUp(Exception):
    pass


class Target:
    """Starts and stops one target for one scenario. `pid` is the root of the processes sampled."""

    def __init__(self, name):
        self.name = name
        self.port = PORTS[name]
        self.proc = None
        self.redis = None

    def start(self, mock_proc):
        n = self.name
        if n == "direct":
            self.pid = mock_proc.pid
            return
        if n.startswith("sluice"):
            if not os.path.exists(SLUICE):
                raise NotSetUp("release build of sluice missing")
            if n in SHARED:
                exe = shutil.which("redis-server") or "/usr/bin/redis-server"
                if not os.path.exists(exe):
                    raise NotSetUp("redis-server is not installed (apt-get install redis-server failed)")
                # Pinned, Redis runs beside the load (CPU 1), as a server of its own would: on the
                # target's CPU it measured +1.76 ms p50 at 1,000 streams against +0.73 ms beside the
                # load (bench/results/shared-paired-redis-cpu0.md).
                self.redis = spawn(pinned([exe, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                                           "--appendonly", "no"], 1), "redis")
                if not wait_port(REDIS_PORT, self.redis, 10):
                    kill(self.redis)
                    raise NotSetUp("redis-server did not listen")
            cfg = render(f"{n}.yaml", f"{n}.yaml", PORT=self.port, ADMIN=self.port + 1000, UPSTREAM=MOCK_PORT,
                         REDIS=REDIS_PORT)
            check = subprocess.run([SLUICE, "check", cfg], capture_output=True, text=True, timeout=30)
            if check.returncode != 0:
                raise NotSetUp(f"sluice check failed: {check.stdout.strip()[:200]}")
            self.proc = spawn(pinned([SLUICE, "run", "--config", cfg, "--workers", str(workers())], 0), n)
        elif n == "nginx":
            exe = shutil.which("nginx") or "/usr/sbin/nginx"
            if not os.path.exists(exe):
                raise NotSetUp("nginx is not installed (apt-get install nginx-light failed)")
            d = os.path.join(TMP, "nginx")
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o777)
            cfg = render("nginx.conf", "nginx/nginx.conf", PORT=self.port, UPSTREAM=MOCK_PORT, WORKERS=workers(), DIR=d)
            self.proc = spawn(pinned([exe, "-p", d, "-c", cfg, "-e", os.path.join(d, "nginx-error.log")], 0), n)
        elif n == "haproxy":
            exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
            if not os.path.exists(exe):
                raise NotSetUp("haproxy is not installed (apt-get install haproxy failed)")
            cfg = render("haproxy.cfg", "haproxy.cfg", PORT=self.port, UPSTREAM=MOCK_PORT, WORKERS=workers(),
                         MAXCONN=(fd_limit() - 100) // 2)
            self.proc = spawn(pinned([exe, "-db", "-f", cfg], 0), n)
        elif n == "litellm":
            exe = shutil.which("litellm")
            if not exe:
                raise NotSetUp("litellm is not installed (pip install 'litellm[proxy]' failed)")
            cfg = render("litellm.yaml", "litellm.yaml", UPSTREAM=MOCK_PORT)
            env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR",
                       LITELLM_TELEMETRY="False", NO_DOCS="True", DISABLE_ADMIN_UI="True",
                       LITELLM_MASTER_KEY=AUTH)
            self.proc = spawn(pinned([exe, "--config", cfg, "--host", "127.0.0.1", "--port", str(self.port),
                                      "--num_workers", str(workers())], 0), n, env=env)
        startup = 90 if n == "litellm" else 15
        if not wait_port(self.port, self.proc, startup):
            code = self.proc.poll()
            kill(self.proc)
            raise NotSetUp(f"did not listen on {self.port} within {startup}s" + (f" (exit {code})" if code is not None else ""))
        # The first request through LiteLLM may be slow (imports on first use); allow it time.
        ok, data = http_probe(self.port, False, 60 if n == "litellm" else 10)
        if not ok:
            kill(self.proc)
            raise NotSetUp(f"probe request failed: {data[:120]!r}")
        self.pid = self.proc.pid

    def stop(self):
        if self.proc is not None:
            kill(self.proc, grace=6.0)
            self.proc = None
        if self.redis is not None:
            kill(self.redis)
            self.redis = None


def start_mock(ttft, tps, tokens):
    args = [SLUICE, "mock", "--listen", f"127.0.0.1:{MOCK_PORT}", "--ttft", ttft, "--tps", str(tps),
            "--tokens", str(tokens), "--workers", str(CORES)]
    proc = spawn(pinned(args, 1), "mock")
    if not wait_port(MOCK_PORT, proc, 15):
        kill(proc)
        raise RuntimeError("sluice mock did not start")
    return proc


def loadgen(target, label, mode, concurrency, duration, ramp=0.0, extra=(), bound=600):
    if target.redis is not None:
        redis_command("CONFIG", "RESETSTAT")
    args = pinned([LOADGEN, "--target", f"127.0.0.1:{target.port}", "--mode", mode, "--concurrency", str(concurrency),
            "--threads", str(CORES), "--duration", str(duration), "--ramp", str(ramp), "--pid", str(target.pid),
            "--label", label, "--auth", AUTH] + list(extra), 1)
    log(f"  {label}: sluice-load --mode {mode} --concurrency {concurrency}")
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=bound, start_new_session=True)
    except subprocess.TimeoutExpired:
        return {"error": f"load generator exceeded {bound}s"}
    if r.returncode != 0:
        return {"error": f"load generator exit {r.returncode}: {r.stdout.strip()[:200]} {r.stderr.strip()[:200]}"}
    try:
        result = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"unreadable load generator output: {r.stdout[:200]}"}
    if target.redis is not None:
        result["redis_commands"] = redis_script_calls()
    with open(os.path.join(TMP, "runs.jsonl"), "a") as f:
        f.write(json.dumps(dict(result, target=target.name)) + "\n")
    return result


def fd_limit():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------------------------------------------
# Scenarios. Each runs with its own mock settings; each target is started for it and stopped after it.


def scenario_plan(quick, nofile):
    # A single-process proxy holds two descriptors per stream (client and upstream); keep room for the rest.
    hold = min(10000, (nofile - 200) // 2)
    if quick:
        return {
            "a": {"mock": ("50ms", 20, 20), "levels": [1, 100, 1000], "duration": 3, "ramp": {1: 0, 100: 0.5, 1000: 1}},
            "b": {"mock": ("0", 0.5, 40), "streams": min(hold, 2000), "ramp": 2, "hold_timeout": 20, "settle": 1},
            "c": {"mock": ("0", 50, 100), "concurrency": 200, "duration": 3, "rounds": 2},
            "d": {"mock": ("0", 1000, 1), "concurrency": 50, "duration": 2},
        }
    return {
        "a": {"mock": ("50ms", 20, 20), "levels": [1, 100, 1000], "duration": 6, "ramp": {1: 0, 100: 1, 1000: 2},
              "rounds": 3},
        "b": {"mock": ("0", 0.5, 40), "streams": hold, "ramp": 8, "hold_timeout": 30, "settle": 2},
        "c": {"mock": ("0", 50, 100), "concurrency": 200, "duration": 8, "rounds": 3},
        "d": {"mock": ("0", 1000, 1), "concurrency": 50, "duration": 5, "rounds": 3},
    }


def run_scenarios(targets, plan, scenarios):
    """Runs each scenario `rounds` times, round by round across the targets (so a change in the
    machine's background load hits every target alike). Results are lists of runs per key."""
    results = {t: {} for t in targets}
    status = {t: None for t in targets}  # "not set up: …" once a target failed to start
    for key in [k for k in ["a", "b", "c", "d"] if k in scenarios]:
        sc = plan[key]
        ttft, tps, tokens = sc["mock"]
        rounds = sc.get("rounds", 1)
        log(f"scenario {key}: mock ttft={ttft} tps={tps} tokens={tokens}, {rounds} round(s)")
        mock = start_mock(ttft, tps, tokens)
        try:
            for rnd in range(rounds):
                for name in targets:
                    # LiteLLM is two orders of magnitude off and slow to run: one round is enough.
                    if status[name] or (name == "litellm" and rnd > 0):
                        continue
                    t = Target(name)
                    try:
                        t.start(mock)
                    except NotSetUp as e:
                        status[name] = f"not set up: {e}"
                        log(f"  {name}: {status[name]}")
                        continue
                    runs = results[name]
                    try:
                        if key == "a":
                            for c in sc["levels"]:
                                runs.setdefault(f"a{c}", []).append(
                                    loadgen(t, f"{name} a{c} r{rnd + 1}", "stream", c, sc["duration"], sc["ramp"][c]))
                                time.sleep(0.5)
                        elif key == "b":
                            runs.setdefault("b", []).append(loadgen(
                                t, f"{name} b r{rnd + 1}", "hold", sc["streams"], 0, sc["ramp"],
                                ["--hold-timeout", str(sc["hold_timeout"]), "--settle", str(sc["settle"])]))
                        elif key == "c":
                            runs.setdefault("c", []).append(
                                loadgen(t, f"{name} c r{rnd + 1}", "stream", sc["concurrency"], sc["duration"], 0.5))
                        elif key == "d":
                            runs.setdefault("d", []).append(
                                loadgen(t, f"{name} d r{rnd + 1}", "short", sc["concurrency"], sc["duration"], 0.2))
                    finally:
                        t.stop()
                        time.sleep(1.0)  # let TIME_WAIT sockets and the mock's connections settle
        finally:
            kill(mock)
            time.sleep(0.5)
    return results, status


def median_run(runs, metric):
    """The run with the median value of `metric` (the lower middle one for an even count), with
    the spread of all rounds; a failed run counts only when no round succeeded."""
    if isinstance(runs, dict):
        runs = [runs]  # a run written before rounds existed
    good = [r for r in runs if ok(r)]
    if not good:
        return runs[-1] if runs else None
    good.sort(key=metric)
    chosen = dict(good[(len(good) - 1) // 2])
    values = [metric(r) for r in good]
    chosen["_rounds"] = len(good)
    chosen["_spread"] = (min(values), max(values))
    return chosen


# ---------------------------------------------------------------------------------------------------------------
# Report


def sluice_version(cmd):
    """The commit, marked dirty only when sources differ from it (earlier results do not count)."""
    rev = cmd(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    changed = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--", ".", ":(exclude)bench/results"],
                             capture_output=True, timeout=30).returncode != 0
    return rev + ("-dirty" if changed else "")


def machine():
    def cmd(args):
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
            return (r.stdout + r.stderr).strip()
        except (OSError, subprocess.TimeoutExpired):
            return "not found"
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            model = m.group(1) if m else model
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024 // 1024} GiB"
    except (OSError, ValueError, IndexError):
        pass
    litellm = cmd([sys.executable, "-m", "pip", "show", "litellm"])
    m = re.search(r"Version: (\S+)", litellm)
    return {
        "cores": CORES, "cpu": model, "memory": mem, "kernel": cmd(["uname", "-r"]),
        "sluice": sluice_version(cmd),
        "swift": cmd(["swift", "--version"]).splitlines()[0] if shutil.which("swift") else "not found",
        "nginx": cmd(["nginx", "-v"]).replace("nginx version: ", ""),
        "haproxy": cmd(["haproxy", "-v"]).splitlines()[0] if shutil.which("haproxy") else "not found",
        "litellm": m.group(1) if m else "not found",
        "python": sys.version.split()[0],
        "nofile": fd_limit(),
    }


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(v, base):
    if v is None or base in (None, 0):
        return "–"
    return f"{v / base:.2f}×"


def ok(run):
    return run is not None and "error" not in run


def derive(results, status, plan):
    """Per target, the figures the tables and targets use."""
    d = {}
    direct = results.get("direct", {})
    for name, runs in results.items():
        f = {}
        for c in plan["a"]["levels"]:
            r = median_run(runs.get(f"a{c}", []), lambda x: x["ttft"]["p99_ms"])
            base = median_run(direct.get(f"a{c}", []), lambda x: x["ttft"]["p99_ms"])
            if ok(r):
                f[f"a{c}_p50"] = r["ttft"]["p50_ms"]
                f[f"a{c}_p99"] = r["ttft"]["p99_ms"]
                f[f"a{c}_fail"] = r["failed"]
                f[f"a{c}_done"] = r["completed"]
                f[f"a{c}_gap_p99"] = r["gap"]["p99_ms"]
                f[f"a{c}_loadcpu"] = r["loadgen_cpu_s"]
                f[f"a{c}_spread"] = r["_spread"] + (r["_rounds"],)
                if "redis_commands" in r and r["completed"]:
                    f[f"a{c}_redis_per_request"] = r["redis_commands"] / r["completed"]
                if ok(base) and name != "direct":
                    f[f"a{c}_add50"] = r["ttft"]["p50_ms"] - base["ttft"]["p50_ms"]
                    f[f"a{c}_add99"] = r["ttft"]["p99_ms"] - base["ttft"]["p99_ms"]
            elif r:
                f[f"a{c}_err"] = r["error"]
        r = median_run(runs.get("b", []), lambda x: x["held_rss_kib"])
        if ok(r):
            f["b_streams"] = r["concurrency"]
            f["b_held"] = r["held_streams"]
            f["b_rss_mib"] = r["held_rss_kib"] / 1024
            grown = r["held_rss_kib"] - r["target_rss_kib_before"]
            f["b_kib_per_stream"] = grown / r["held_streams"] if r["held_streams"] else None
            f["b_failed"] = r["failed"]
        elif r:
            f["b_err"] = r["error"]
        r = median_run(runs.get("c", []), lambda x: x["target_cpu_s"] / max(1, x["data_events"]))
        if ok(r):
            f["c_events"] = r["data_events"]
            f["c_cpu"] = r["target_cpu_s"]
            f["c_cpu_per_100k"] = r["target_cpu_s"] / r["data_events"] * 100000 if r["data_events"] else None
            f["c_loadcpu_per_100k"] = r["loadgen_cpu_s"] / r["data_events"] * 100000 if r["data_events"] else None
            f["c_fail"] = r["failed"]
            f["c_events_per_s"] = r["data_events"] / max(0.001, r["wall_s"])
            lo, hi = r["_spread"]
            f["c_spread"] = (lo * 100000, hi * 100000, r["_rounds"])
        elif r:
            f["c_err"] = r["error"]
        r = median_run(runs.get("d", []), lambda x: x["requests_per_s"])
        if ok(r):
            f["d_rps"] = r["requests_per_s"]
            f["d_spread"] = r["_spread"] + (r["_rounds"],)
            if "redis_commands" in r and r.get("completed"):
                f["d_redis_per_request"] = r["redis_commands"] / r["completed"]
            f["d_p99"] = r["latency"]["p99_ms"]
            f["d_fail"] = r["failed"]
            f["d_loadcpu"] = r["loadgen_cpu_s"]
            f["d_cpu"] = r["target_cpu_s"]
        elif r:
            f["d_err"] = r["error"]
        if name in SHARED:
            # Paired rounds: round r of the shared chain ran right after round r of the in-memory one, so
            # their difference cancels most of what the machine's load did to both in that round.
            full = results.get("sluice-full", {})
            for c in plan["a"]["levels"]:
                pairs = [(b["ttft"]["p50_ms"] - a["ttft"]["p50_ms"], b["ttft"]["p99_ms"] - a["ttft"]["p99_ms"])
                         for a, b in zip(full.get(f"a{c}", []), runs.get(f"a{c}", [])) if ok(a) and ok(b)]
                if pairs:
                    for i, key in ((0, "paired50"), (1, "paired99")):
                        v = sorted(p[i] for p in pairs)
                        f[f"a{c}_{key}"] = statistics.median(v)
                        f[f"a{c}_{key}_spread"] = (v[0], v[-1], len(v))
        d[name] = f
    return d


def targets_check(d):
    s, n, e = d.get("sluice-full", {}), d.get("nginx", {}), d.get("sluice-empty", {})
    checks = []

    def line(name, goal, value, limit, met):
        checks.append({"target": name, "goal": goal, "value": value, "limit": limit,
                       "met": met})
    # a. added TTFT p99 at 1,000 streams no worse than nginx (each Sluice variant).
    for label, f in (("Sluice, empty chain", e), ("Sluice, full chain", s)):
        v, lim = f.get("a1000_add99"), n.get("a1000_add99")
        line(f"a. added TTFT p99 @1,000, {label}", "≤ nginx's", v, lim,
             None if v is None or lim is None else v <= max(lim, 0) + 1.0)
    v = s.get("b_kib_per_stream")
    line(f"b. {s.get('b_held', 0):,} streams held, RSS per stream (full chain)", "≤ 16 KiB", v, 16.0,
         None if v is None else (v <= 16.0 and s.get("b_held", 0) >= 0.99 * s.get("b_streams", 1)))
    v, lim = s.get("c_cpu_per_100k"), n.get("c_cpu_per_100k")
    line("c. CPU s per 100k events, full chain", "≤ 1.2× nginx's", v, None if lim is None else 1.2 * lim,
         None if v is None or lim is None else v <= 1.2 * lim)
    v, lim = s.get("d_rps"), n.get("d_rps")
    line("d. short requests/s, full chain", "≥ 0.8× nginx's", v, None if lim is None else 0.8 * lim,
         None if v is None or lim is None else v >= 0.8 * lim)
    for name in SHARED:
        sh = d.get(name, {})
        if not sh:
            continue
        # Issue 14: sharing three limits through Redis adds at most 1 ms to the TTFT p99 at 1,000 streams,
        # judged by the median of the paired rounds' differences.
        v = sh.get("a1000_paired99")
        mode = " in batch mode" if name == "sluice-shared-batch" else ""
        line(f"f. TTFT p99 @1,000, 3 limits shared through Redis{mode}, over the in-memory full chain "
             "(median of paired rounds)", "≤ +1 ms", v, 1.0, None if v is None else v <= 1.0)
    return checks


def markdown(info, plan, d, status, checks, started, seconds, quick):
    out = []
    w = out.append
    w(f"# Sluice benchmark results{' (quick mode)' if quick else ''}")
    w("")
    w(f"Run {started} UTC, {seconds / 60:.1f} minutes, by `bench/run.sh{' --quick' if quick else ''}`.")
    w("")
    w(f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory']}, Linux {info['kernel']}, "
      f"open files limit {info['nofile']}. Versions: Sluice `{info['sluice']}`, {info['swift']}, nginx {info['nginx']}, "
      f"{info['haproxy']}, LiteLLM {info['litellm']} (Python {info['python']}). Load generator, mock, and target "
      + (f"share the {info['cores']} cores; every proxy runs {info['cores']} workers." if not plan.get("pinned") else
         "are pinned: every proxy runs one worker on CPU 0; the mock, the load generator (and Redis) run on CPU 1."))
    w("")
    names = [n for n in TARGETS if n in d]

    def label(n):
        return LABELS[n]

    w("## Targets")
    w("")
    w("| target | goal | measured | limit | |")
    w("|---|---|---|---|---|")
    for c in checks:
        verdict = "not measured" if c["met"] is None else ("**met**" if c["met"] else "**missed**")
        w(f"| {c['target']} | {c['goal']} | {fmt(c['value'], 2)} | {fmt(c['limit'], 2)} | {verdict} |")
    w("")

    w("## Summary")
    w("")
    w(summary(d, plan))
    w("")

    a = plan["a"]
    w(f"## a. Time to first token (mock TTFT {a['mock'][0]}, {a['mock'][1]} tokens/s, {a['mock'][2]} tokens; "
      f"{a['duration']} s of back-to-back streams per level)")
    w("")
    w(f"Each level runs {a.get('rounds', 1)} times, round by round across the targets (LiteLLM once); the table shows "
      "the round with the median p99. Added = the target's percentile minus the direct run's at the same level, "
      "in ms. The last columns give the spread of p99 over the rounds at 1,000 streams and the added p99 "
      "against nginx's.")
    w("")
    hdr = "| target |"
    sep = "|---|"
    for c in a["levels"]:
        hdr += f" p50 @{c:,} | p99 @{c:,} | added p50 / p99 @{c:,} | streams ok / failed @{c:,} |"
        sep += "---|---|---|---|"
    hdr += " p99 @1,000 over rounds | added p99 @1,000 vs nginx |"
    sep += "---|---|"
    w(hdr)
    w(sep)
    for n in names:
        f = d.get(n, {})
        if status.get(n) and not any(k.startswith("a") for k in f):
            w(f"| {label(n)} | {status[n]} |" + " |" * (4 * len(a["levels"])))
            continue
        row = f"| {label(n)} |"
        for c in a["levels"]:
            if f"a{c}_p50" not in f:
                row += f" {f.get(f'a{c}_err', '–')} | | | |"
                continue
            add = "–" if n == "direct" else f"{fmt(f.get(f'a{c}_add50'), 2)} / {fmt(f.get(f'a{c}_add99'), 2)}"
            row += (f" {fmt(f[f'a{c}_p50'], 2)} | {fmt(f[f'a{c}_p99'], 2)} | {add} | "
                    f"{f[f'a{c}_done']:,} / {f[f'a{c}_fail']:,} |")
        nv = d.get("nginx", {}).get("a1000_add99")
        sp = f.get("a1000_spread")
        row += f" {fmt(sp[0], 1)}–{fmt(sp[1], 1)} ({sp[2]}) |" if sp else " – |"
        row += f" {ratio(f.get('a1000_add99'), nv) if n != 'direct' and (nv or 0) > 0 else '–'} |"
        w(row)
    w("")

    b = plan["b"]
    w(f"## b. Concurrent streams held ({b['streams']:,} opened over {b['ramp']} s; one token every "
      f"{1 / b['mock'][1]:.0f} s)")
    w("")
    w("RSS per stream = (RSS of all the target's processes with the streams live − RSS before the run) / streams held.")
    w("")
    w("| target | streams held | RSS with streams (MiB) | KiB per stream | vs nginx |")
    w("|---|---|---|---|---|")
    nb = d.get("nginx", {}).get("b_kib_per_stream")
    for n in names:
        f = d.get(n, {})
        if "b_held" not in f:
            w(f"| {label(n)} | {status.get(n) or f.get('b_err', '–')} | | | |")
            continue
        w(f"| {label(n)} | {f['b_held']:,} of {f['b_streams']:,} | {fmt(f['b_rss_mib'])} | "
          f"{fmt(f['b_kib_per_stream'], 2)} | {ratio(f['b_kib_per_stream'], nb)} |")
    w("")

    c = plan["c"]
    w(f"## c. CPU per forwarded event ({c['concurrency']} streams, {c['mock'][1]} tokens/s each, "
      f"{c['duration']} s)")
    w("")
    w("CPU = utime + stime of all the target's processes over the run; for the direct row it is the mock's own. "
      f"Events = SSE `data:` events the load generator received. {c.get('rounds', 1)} rounds (LiteLLM once); "
      "the median round is shown, with the range over the rounds.")
    w("")
    w("| target | events | events/s | CPU s | CPU s per 100k events | range over rounds | vs nginx | load generator CPU s per 100k | failed |")
    w("|---|---|---|---|---|---|---|---|---|")
    nc = d.get("nginx", {}).get("c_cpu_per_100k")
    for n in names:
        f = d.get(n, {})
        if "c_events" not in f:
            w(f"| {label(n)} | {status.get(n) or f.get('c_err', '–')} | | | | | | | |")
            continue
        sp = f["c_spread"]
        w(f"| {label(n)} | {f['c_events']:,} | {fmt(f['c_events_per_s'])} | {fmt(f['c_cpu'], 2)} | "
          f"{fmt(f['c_cpu_per_100k'], 3)} | {fmt(sp[0], 2)}–{fmt(sp[1], 2)} ({sp[2]}) | "
          f"{ratio(f['c_cpu_per_100k'], nc) if n != 'direct' else '–'} | "
          f"{fmt(f['c_loadcpu_per_100k'], 3)} | {f['c_fail']:,} |")
    w("")

    dd = plan["d"]
    w(f"## d. Short non-streaming requests ({dd['concurrency']} keep-alive connections, {dd['duration']} s)")
    w("")
    w(f"{dd.get('rounds', 1)} rounds (LiteLLM once); the median round is shown, with the range over the rounds.")
    w("")
    w("| target | requests/s | range over rounds | vs nginx | latency p99 (ms) | target CPU s | load generator CPU s | failed |")
    w("|---|---|---|---|---|---|---|---|")
    nd = d.get("nginx", {}).get("d_rps")
    for n in names:
        f = d.get(n, {})
        if "d_rps" not in f:
            w(f"| {label(n)} | {status.get(n) or f.get('d_err', '–')} | | | | | | |")
            continue
        sp = f["d_spread"]
        w(f"| {label(n)} | {fmt(f['d_rps'])} | {fmt(sp[0])}–{fmt(sp[1])} ({sp[2]}) | {ratio(f['d_rps'], nd)} | {fmt(f['d_p99'], 2)} | "
          f"{fmt(f['d_cpu'], 2)} | {fmt(f['d_loadcpu'], 2)} | {f['d_fail']:,} |")
    w("")

    w("## e. The full chain against the empty chain")
    w("")
    s, e = d.get("sluice-full", {}), d.get("sluice-empty", {})
    w("| measure | empty chain | 8 filters | full / empty |")
    w("|---|---|---|---|")
    for key, what in (("a1000_add50", "added TTFT p50 @1,000 (ms)"), ("a1000_add99", "added TTFT p99 @1,000 (ms)"),
                      ("b_kib_per_stream", "KiB per held stream"), ("c_cpu_per_100k", "CPU s per 100k events"),
                      ("d_rps", "short requests/s")):
        w(f"| {what} | {fmt(e.get(key), 3)} | {fmt(s.get(key), 3)} | {ratio(s.get(key), e.get(key))} |")
    w("")
    for shared_name in SHARED:
        sh = d.get(shared_name)
        if not sh:
            continue
        batched = shared_name == "sluice-shared-batch"
        w("## f. Limits shared through Redis" + (", batch mode" if batched else ""))
        w("")
        w("The full chain with `connection_manager`, `token_bucket` and `admission` marked "
          + ("`shared: { batch: N }`" if batched else "`shared: true`") + ", through a "
          f"local `redis-server` (`bench/configs/{shared_name}.yaml`), against the same chain in memory.")
        w("")
        w("| measure | 8 filters, in memory | 3 of them shared | shared − in memory |")
        w("|---|---|---|---|")
        for key, what in (("a1000_p50", "TTFT p50 @1,000 (ms)"), ("a1000_p99", "TTFT p99 @1,000 (ms)"),
                          ("a100_p50", "TTFT p50 @100 (ms)"), ("a100_p99", "TTFT p99 @100 (ms)"),
                          ("c_cpu_per_100k", "CPU s per 100k events (Sluice only)"), ("d_rps", "short requests/s")):
            a, b = s.get(key), sh.get(key)
            w(f"| {what} | {fmt(a, 2)} | {fmt(b, 2)} | {fmt(None if a is None or b is None else b - a, 2)} |")
        w(f"| Redis scripts per request, streams @1,000 | – | {fmt(sh.get('a1000_redis_per_request'), 2)} | |")
        w(f"| Redis scripts per request, short requests | – | {fmt(sh.get('d_redis_per_request'), 2)} | |")
        w("")
        w("Paired rounds: each round of the shared chain runs right after the same round of the in-memory chain; "
          "the difference is taken round by round, and the median of those differences is the figure target f "
          "is judged by, with its range over the rounds."
          + (" Pinned: each target ran one worker on CPU 0; the mock, the load generator and Redis ran on CPU 1."
             if plan.get("pinned") else ""))
        w("")
        w("| level | p50: median difference (range) | p99: median difference (range) | rounds |")
        w("|---|---|---|---|")
        for c in plan["a"]["levels"]:
            if f"a{c}_paired99" in sh:
                lo50, hi50, n = sh[f"a{c}_paired50_spread"]
                lo99, hi99, _ = sh[f"a{c}_paired99_spread"]
                w(f"| {c:,} streams | {fmt(sh[f'a{c}_paired50'], 2)} ({fmt(lo50, 2)} to {fmt(hi50, 2)}) | "
                  f"{fmt(sh[f'a{c}_paired99'], 2)} ({fmt(lo99, 2)} to {fmt(hi99, 2)}) | {n} |")
        w("")
    not_set = [f"{label(n)}: {status[n]}" for n in names if status.get(n)]
    if not_set:
        w("Targets not set up: " + "; ".join(not_set) + ".")
        w("")
    return "\n".join(out) + "\n"


def summary(d, plan):
    """One row per target with the four headline figures and their ratio to nginx's."""
    names = [n for n in TARGETS if n in d]
    labels = LABELS
    n = d.get("nginx", {})
    rows = ["| target | added TTFT p99 @1,000 (ms) | KiB per held stream | CPU s per 100k events | short requests/s |",
            "|---|---|---|---|---|"]

    def cell(f, key, digits, direct_ok=True, name=""):
        v = f.get(key)
        if v is None or (not direct_ok and name == "direct"):
            return "–"
        base = n.get(key)
        r = f" ({v / base:.2f}× nginx)" if base and base > 0 and name not in ("nginx", "direct") else ""
        return fmt(v, digits) + r

    for name in names:
        f = d[name]
        rows.append(f"| {labels[name]} | {cell(f, 'a1000_add99', 2, False, name)} | "
                    f"{cell(f, 'b_kib_per_stream', 1, True, name)} | {cell(f, 'c_cpu_per_100k', 2, True, name)} | "
                    f"{cell(f, 'd_rps', 0, True, name)} |")
    b = d.get("sluice-full", {})
    rows.append("")
    rows.append(f"Held streams: {b.get('b_held', 0):,} of {plan['b']['streams']:,} for Sluice with 8 filters; "
                "the direct row's CPU is the mock's own.")
    return "\n".join(rows)


def chart(d, plan, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no chart")
        return False
    names = [n for n in TARGETS if n in d]
    labels = {"direct": "direct", "sluice-empty": "Sluice\nempty", "sluice-full": "Sluice\n8 filters",
              "sluice-shared": "Sluice\n3 shared", "sluice-shared-batch": "Sluice\n3 batched", "nginx": "nginx", "haproxy": "HAProxy", "litellm": "LiteLLM"}
    colors = {"direct": "#999999", "sluice-empty": "#1f77b4", "sluice-full": "#0b3d91", "sluice-shared": "#6a3d9a", "sluice-shared-batch": "#9467bd",
              "nginx": "#2ca02c",
              "haproxy": "#ff7f0e", "litellm": "#d62728"}
    panels = [
        ("a1000_add99", "Added TTFT p99 @1,000 streams (ms)\nlower is better", False),
        ("b_kib_per_stream", f"RSS per held stream (KiB), {plan['b']['streams']:,} streams\nlower is better", False),
        ("c_cpu_per_100k", "CPU s per 100k events\nlower is better", False),
        ("d_rps", "Short requests/s\nhigher is better", False),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for ax, (key, title, log_scale) in zip(axes.flat, panels):
        xs = [n for n in names if d.get(n, {}).get(key) is not None and not (key.startswith("a") and n == "direct")]
        vals = [d[n][key] for n in xs]
        # A bar far above the others (LiteLLM) is cut at the top so the rest stay readable; its label
        # still gives its value.
        top = None
        rest = sorted(vals)[:-1]
        if rest and max(vals) > 4 * max(max(rest), 1e-9):
            top = 1.35 * max(rest)
        shown = [min(v, top) if top else v for v in vals]
        bars = ax.bar([labels[n] for n in xs], shown, color=[colors[n] for n in xs])
        for bar, v, h in zip(bars, vals, shown):
            text = fmt(v, 2) + (" (cut)" if top and v > top else "")
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, h), ha="center", va="bottom", fontsize=8)
        if top:
            ax.set_ylim(0, top * 1.12)
        missing = [labels[n].replace("\n", " ") for n in names if n not in xs and not (key.startswith("a") and n == "direct")]
        if missing:
            ax.set_xlabel("no figure: " + ", ".join(missing), fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("Sluice vs direct, nginx, HAProxy, LiteLLM (same load, same machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def render_again(path, out):
    """Writes the markdown and the chart again from a run's JSON (same figures, current layout)."""
    with open(path) as f:
        data = json.load(f)
    plan, results, status, info = data["plan"], data["runs"], data["status"], data["machine"]
    started, seconds, quick = data.get("started"), data.get("seconds"), data.get("quick", False)
    if started is None:
        # Runs written before these fields existed: take them from the markdown written with the JSON.
        md_path = os.path.splitext(path)[0] + ".md"
        m = re.search(r"Run (\S+ \S+) UTC, ([0-9.]+) minutes", open(md_path).read()) if os.path.exists(md_path) else None
        started, seconds = (m.group(1), float(m.group(2)) * 60) if m else ("unknown", 0.0)
    d = derive(results, status, plan)
    checks = targets_check(d)
    md = markdown(info, plan, d, status, checks, started, seconds, quick)
    with open(os.path.join(RESULTS, f"{out}.md"), "w") as f:
        f.write(md)
    data["figures"], data["targets"] = d, checks
    data["started"], data["seconds"], data["quick"] = started, seconds, quick
    with open(os.path.join(RESULTS, f"{out}.json"), "w") as f:
        json.dump(data, f, indent=1, default=str)
    chart(d, plan, os.path.join(RESULTS, f"{out}.png"))
    print(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="shorter runs and fewer held streams, for iteration")
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of " + ",".join(TARGETS))
    ap.add_argument("--scenarios", default="abcd", help="which of the scenarios a, b, c, d to run (e is derived)")
    ap.add_argument("--render", metavar="JSON", help="only render the tables and chart again from a run's raw JSON")
    ap.add_argument("--out", default="latest", help="base name of the files written in bench/results/")
    ap.add_argument("--pin", action="store_true",
                    help="run each target as one worker on CPU 0, and the mock, load generator and Redis on CPU 1")
    ap.add_argument("--rounds", type=int, help="rounds per scenario, instead of the plan's")
    ap.add_argument("--levels", help="comma-separated stream counts of scenario a, instead of 1,100,1000")
    args = ap.parse_args()
    PIN["on"] = args.pin
    if args.render:
        render_again(args.render, args.out)
        return
    os.makedirs(TMP, exist_ok=True)
    for name in ("runs.jsonl",):
        p = os.path.join(TMP, name)
        if os.path.exists(p):
            os.remove(p)
    for f in os.listdir(TMP):
        if f.endswith(".log"):
            os.remove(os.path.join(TMP, f))
    targets = [t for t in args.targets.split(",") if t in TARGETS]
    if "direct" not in targets:
        targets.insert(0, "direct")
    nofile = fd_limit()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0 = time.time()
    plan = scenario_plan(args.quick, nofile)
    if args.rounds:
        for sc in plan.values():
            if "rounds" in sc or "levels" in sc:
                sc["rounds"] = max(1, min(args.rounds, 20))
    if args.levels:
        plan["a"]["levels"] = [int(x) for x in args.levels.split(",")]
        plan["a"]["ramp"] = {c: plan["a"]["ramp"].get(c, 2) for c in plan["a"]["levels"]}
    plan["pinned"] = args.pin
    info = machine()
    results, status = run_scenarios(targets, plan, args.scenarios)
    d = derive(results, status, plan)
    checks = targets_check(d)
    seconds = time.time() - t0
    md = markdown(info, plan, d, status, checks, started, seconds, args.quick)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{args.out}.md"), "w") as f:
        f.write(md)
    with open(os.path.join(RESULTS, f"{args.out}.json"), "w") as f:
        json.dump({"machine": info, "plan": plan, "runs": results, "status": status, "figures": d,
                   "targets": checks, "started": started, "seconds": seconds, "quick": args.quick},
                  f, indent=1, default=str)
    chart(d, plan, os.path.join(RESULTS, f"{args.out}.png"))
    print(md)
    log(f"done in {seconds / 60:.1f} min: bench/results/{args.out}.md, .json, .png")


if __name__ == "__main__":
    main()
