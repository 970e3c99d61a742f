#!/usr/bin/env bash
# Checks the deployment examples with what a development machine has: no Docker engine and no
# Kubernetes cluster needed. See README.md ("What was checked") for what this does not cover.
#
#   examples/deploy/check.sh [--sync-configmap] [SLUICE-BINARY]
#
# SLUICE-BINARY is absolute or relative to the repository root (default: .build/debug/sluice).
#
# --sync-configmap first rewrites the `filters.yaml: |` block of kubernetes/configmap.yaml from
# kubernetes/filters.yaml (the file you edit), keeping the ConfigMap's header.
# Needs python3 with PyYAML. Runs `systemd-analyze verify` only when systemd-analyze exists.
set -euo pipefail
cd "$(dirname "$0")/../.."
SYNC=0
if [ "${1:-}" = "--sync-configmap" ]; then SYNC=1; shift; fi
SLUICE="${1:-.build/debug/sluice}"
DEPLOY=examples/deploy
K8S=$DEPLOY/kubernetes
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ "$SYNC" = 1 ]; then
  python3 - "$K8S/filters.yaml" "$K8S/configmap.yaml" <<'EOF'
import sys
source, target = sys.argv[1], sys.argv[2]
marker = "  filters.yaml: |\n"
text = open(target).read()
assert text.count(marker) == 1, f"{target}: expected exactly one line '  filters.yaml: |'"
head = text[: text.index(marker) + len(marker)]
lines = open(source).read().splitlines(keepends=True)
open(target, "w").write(head + "".join("    " + l if l.strip() else "\n" for l in lines))
print(f"== {target} rewritten from {source}")
EOF
fi

if [ ! -x "$SLUICE" ]; then
  echo "check: $SLUICE not found; build it first (swift build --product sluice)" >&2
  exit 1
fi

# shared_state reads the Redis password and key secret from the environment (the Secret in the
# cluster); any value lets `sluice check` check the rest.
export SLUICE_REDIS_PASSWORD=check SLUICE_KEY_SECRET=check

echo "== sluice check: the plain filter file"
"$SLUICE" check "$K8S/filters.yaml"

echo "== the ConfigMap's filter file: extracted, identical to filters.yaml, and valid"
python3 - "$K8S/configmap.yaml" "$WORK/from-configmap.yaml" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
assert len(docs) == 1 and docs[0]["kind"] == "ConfigMap", "configmap.yaml: expected one ConfigMap"
open(sys.argv[2], "w").write(docs[0]["data"]["filters.yaml"])
EOF
cmp "$WORK/from-configmap.yaml" "$K8S/filters.yaml" || { echo "configmap.yaml and filters.yaml differ" >&2; exit 1; }
"$SLUICE" check "$WORK/from-configmap.yaml"

echo "== the manifests: YAML parses, and the pieces agree with each other"
python3 - "$K8S" <<'EOF'
import os, sys, yaml
k8s = sys.argv[1]
def load(name):
    return [d for d in yaml.safe_load_all(open(os.path.join(k8s, name))) if d]
for name in ("deployment.yaml", "service.yaml", "configmap.yaml", "redis.yaml"):
    print(f"  {name}: {len(load(name))} document(s) parsed")
(dep,), (svc,), (cm,) = load("deployment.yaml"), load("service.yaml"), load("configmap.yaml")
redis = {d["kind"]: d for d in load("redis.yaml")}
filters = yaml.safe_load(cm["data"]["filters.yaml"])
problems = []
def need(ok, text):
    if not ok: problems.append(text)

spec = dep["spec"]; pod = spec["template"]["spec"]; labels = spec["template"]["metadata"]["labels"]
(c,) = pod["containers"]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
need(spec["selector"]["matchLabels"].items() <= labels.items(), "Deployment selector does not match the pod labels")
need(svc["spec"]["selector"].items() <= labels.items(), "Service selector does not match the pod labels")

# Service: the proxy port only.
for p in svc["spec"]["ports"]:
    target = ports.get(p["targetPort"], p["targetPort"])
    need(target == 8080, f"Service exposes container port {target}; only 8080 belongs on it")

# The filter file and the container agree on ports; admin is reachable by the kubelet.
listen = filters["listeners"][0]["address"]; admin = filters["admin"]["address"]
need(listen == f"0.0.0.0:{ports['http']}", f"first listener {listen} is not 0.0.0.0:{ports['http']}")
need(admin == f"0.0.0.0:{ports['admin']}", f"admin {admin} is not 0.0.0.0:{ports['admin']} (probes need it)")

# Probes on the admin port.
need(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}, "readiness is not /readyz on admin")
need(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}, "liveness is not /healthz on admin")

# Grace period covers preStop plus the drain: the longest `drain` filter timeout, else 30 s.
def seconds(text):
    text = str(text).strip()
    for unit, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        number = text[: -len(unit)]
        if text.endswith(unit) and number.replace(".", "", 1).isdigit():
            return float(number) * factor
    raise ValueError(f"cannot read the duration {text!r}")
drains = [seconds((f.get("config") or {}).get("timeout", "30s"))
          for chain in filters["chains"].values() for f in chain or [] if f["filter"] == "drain"]
DRAIN = max(drains) if drains else 30
print(f"  drain timeout: {DRAIN:g} s" + ("" if drains else " (no drain filter: the default)"))
pre = c["lifecycle"]["preStop"]["exec"]["command"]
sleep = int(pre[-1]) if pre[0].endswith("sleep") else 0
grace = pod["terminationGracePeriodSeconds"]
need(sleep > 0, "preStop does not sleep")
need(grace > sleep + DRAIN, f"terminationGracePeriodSeconds {grace} <= preStop {sleep} s + drain {DRAIN:g} s")

# The ConfigMap reaches --config as a directory mount (updates arrive), and --watch is on.
cmd = c["command"]
config = cmd[cmd.index("--config") + 1]
need("--watch" in cmd, "sluice runs without --watch")
vol = {v["name"]: v for v in pod["volumes"]}
mounts = [m for m in c["volumeMounts"] if vol[m["name"]].get("configMap", {}).get("name") == cm["metadata"]["name"]]
need(len(mounts) == 1, "the ConfigMap is not mounted exactly once")
for m in mounts:
    need("subPath" not in m, "the ConfigMap is mounted with subPath: it would never be updated")
    need(os.path.join(m["mountPath"], "filters.yaml") == config, f"--config {config} is not filters.yaml in {m['mountPath']}")

# Shared limits: the filter file's Redis is the Service in redis.yaml, and the environment
# variables it reads come from that Secret.
shared = filters.get("shared_state") or {}
need(shared.get("url", "").startswith(f"redis://{redis['Service']['metadata']['name']}:{redis['Service']['spec']['ports'][0]['port']}/"),
     f"shared_state.url {shared.get('url')} is not the redis.yaml Service")
env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])}
secret = redis["Secret"]
for key in ("password_env", "key_secret_env"):
    var = shared.get(key)
    ref = env.get(var)
    need(ref is not None and ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"],
         f"shared_state.{key} {var} does not come from the Secret in redis.yaml")
need(dep["spec"]["replicas"] >= 3, "the example runs 3 replicas")

for p in problems: print("  problem:", p)
if problems: sys.exit(1)
print("  cross-checks passed")
EOF

echo "== systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify fails when /usr/local/bin/sluice is absent; check against the built binary instead.
  SLUICE_ABS="$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")"
  sed "s#/usr/local/bin/sluice#$SLUICE_ABS#g" "$DEPLOY/systemd/sluice.service" > "$WORK/sluice.service"
  systemd-analyze verify "$WORK/sluice.service"
  echo "  systemd-analyze verify: no complaints (binary path replaced by $SLUICE)"
else
  echo "  systemd-analyze not found: the unit was not verified"
fi
echo "ok"
