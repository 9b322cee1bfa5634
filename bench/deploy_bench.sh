#!/usr/bin/env bash
# The figures of docs/deploy.md, measured on this machine: image sizes, `br2k up [--containers]`
# (cold: images built; warm: cached), the loss of the leader pod (removal -> the next write
# acknowledged), and the loss of every pod (removal -> claim -> redeploy from the chain ->
# answered). Bounded: LEADER_TRIALS and TOTAL_TRIALS trials, each with a time limit.
#
#   bench/deploy_bench.sh [BIN_DIR]           (default build/bin; needs root for podman here)
#   MODE=process bench/deploy_bench.sh [BIN_DIR]   the pods as local processes (no images)
set -euo pipefail
bin=${1:-build/bin}
br2k="$(cd "$bin" && pwd)/br2k"
MODE=${MODE:-containers}
LEADER_TRIALS=${LEADER_TRIALS:-5}
TOTAL_TRIALS=${TOTAL_TRIALS:-3}
run=$(mktemp -d /tmp/br2k-deploy-bench.XXXXXX)/run
export BR2K_RUN_DIR=$run
trap 'cp "$run/manager.log" /tmp/deploy_bench_manager.log 2>/dev/null; "$br2k" down --purge >/dev/null 2>&1 || true' EXIT

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{print a-b}'; }
podman_br2k() {
  CONTAINERS_CONF=$run/containers/containers.conf CONTAINERS_STORAGE_CONF=$run/containers/storage.conf \
    podman --storage-driver vfs "$@"
}
flag=""
[[ $MODE == containers ]] && flag="--containers"
# Removes pod $1 as a crashed machine would: podman pod rm, or SIGKILL to its recorded processes.
remove_pod() {
  if [[ $MODE == containers ]]; then
    podman_br2k pod rm -f -t 0 "$1" >/dev/null
  else
    python3 -c "import json,os,signal; r=json.load(open('$run/pods/$1.json'))
for c in r['containers']:
    try: os.kill(c['pid'], signal.SIGKILL)
    except ProcessLookupError: pass"
  fi
}
all_pods() {
  if [[ $MODE == containers ]]; then podman_br2k pod ps --format '{{.Name}}'; else
    for f in "$run"/pods/*.json; do basename "$f" .json; done; fi
}
leader_pod() {
  local url
  url=$("$br2k" registry locate)
  python3 -c "import json,sys; s=json.load(open('$run/state.json'));
print([r['etcd_member'] for r in s['replicas'] if r['url']=='$url'][0])"
}

t=$(now)
"$br2k" up $flag --detach --heartbeat-ms 100 --election-ms 1000 >/dev/null
cold=$(since "$t")
[[ $MODE == containers ]] && "$br2k" images list
"$br2k" down >/dev/null
t=$(now)
"$br2k" up $flag --detach --heartbeat-ms 100 --election-ms 1000 >/dev/null
warm=$(since "$t")
printf 'up (%s): first %.1f s, again (images cached) %.1f s\n' "$MODE" "$cold" "$warm"
"$br2k" call POST /logs --data '{"user":"bench"}' >/dev/null

for i in $(seq 1 "$LEADER_TRIALS"); do
  pod=$(leader_pod)
  t=$(now)
  remove_pod "$pod"
  # --claim-after 0: an ordinary failover must not spend the claimant's one claim per window.
  "$br2k" call POST /logs --data "{\"user\":\"leader-loss-$i\"}" --timeout 60 --claim-after 0 >/dev/null
  printf 'leader pod %s removed -> next write acknowledged: %.2f s\n' "$pod" "$(since "$t")"
  "$br2k" deploy --timeout 120 >/dev/null   # plays the missing pod again
done

for i in $(seq 1 "$TOTAL_TRIALS"); do
  # The manager acts on one claim per claimant per 60 s window and redeploys a service at most
  # every 30 s (its defaults, against claim floods): trials are spaced accordingly.
  if ((i > 1)); then sleep 61; fi
  for p in $(all_pods); do remove_pod "$p"; done
  t=$(now)
  out=$("$br2k" call GET /logs --claim-after 1 --timeout 180)
  printf 'every pod removed -> claim -> redeployed from the chain -> answered: %.2f s (%s entries)\n' \
    "$(since "$t")" "$(echo "$out" | grep -o '"' | wc -l | awk '{print int(($1-2)/2)}')"
done
grep -E 'redeployed:' "$run/manager.log" | sed -E 's/.*(serves [0-9]+ ms after the deploy began).*/manager: leader \1/'
