#!/usr/bin/env bash
# Installs everything br2k needs on a Debian 12 machine. Idempotent: safe to run again.
#   - Debian packages (compiler, gRPC/protobuf, Boost, etcd, crypto, test libraries)
#   - npm packages pinned by the committed package-lock.json (anvil, solc, playwright-core)
#   - Debian's chromium, driven headless by the dashboard's browser test (no browser download)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

APT_PACKAGES=(
  build-essential g++ cmake make pkg-config git ca-certificates curl
  clang-14 libclang-rt-14-dev llvm-14 clang-format lld
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libgrpc-dev
  libboost-dev libboost-system-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libsecp256k1-dev libcrypto++-dev libssl-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  etcd-server etcd-client
  iptables iproute2 procps psmisc
  libyaml-cpp-dev
  podman buildah docker-registry runc skopeo catatonit conmon containernetworking-plugins
  chromium
)

need=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    need+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

if ((${#need[@]})); then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
else
  echo "setup: Debian packages already installed"
fi

# Debian's etcd-server package starts a system etcd on 2379; br2k runs its own members on free
# ports, but a system member would only waste memory and confuse `etcdctl` users.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
fi
# Only the packaged service: /usr/bin/etcd with no arguments (it reads /etc/default/etcd). br2k's
# own members (and other runs' test clusters on this machine) always have arguments.
for pid in $(pgrep -x etcd -u root 2>/dev/null); do
  if [[ "$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)" == "/usr/bin/etcd " ]]; then
    kill "$pid" 2>/dev/null && echo "setup: stopped the system etcd (pid $pid)"
  fi
done

# Node >= 20 is required by anvil's platform package. The machine may carry a newer Node.js than
# Debian's (with npm bundled); only install Debian's when there is none at all.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -q --no-install-recommends nodejs npm || true
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "setup: error: Node.js >= 20 is required (found $(node --version 2>/dev/null || echo none))." >&2
  echo "setup: install a Node.js 20 (Debian 12's nodejs is 18) and run this script again." >&2
  exit 1
fi

if [[ -f package-lock.json ]]; then
  stamp=node_modules/.br2k-lock-stamp
  if [[ ! -f $stamp ]] || ! cmp -s package-lock.json "$stamp"; then
    # Exact versions from the committed lock. Not `npm ci`: anvil's package lists optional
    # binaries for every platform, and `npm ci` refuses a lock without all of them, while only
    # the linux-amd64 one is published in the registry reachable here. `npm install --no-save`
    # installs what the lock says, tolerates missing optional packages, and never rewrites it.
    echo "setup: npm install (from package-lock.json)"
    npm install --no-save --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
  else
    echo "setup: npm packages up to date"
  fi
fi
echo "setup: done"
