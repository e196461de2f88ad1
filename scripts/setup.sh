#!/usr/bin/env bash
# Everything a fresh machine of this kind needs, in one idempotent step: Debian packages, npm packages, the build
# (TypeScript → dist/, bpf/*.bpf.c → .bpf.o, native/ libbpf binding and lab helper).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config cmake make g++   # BPF programs + native binding
  openssh-server openssh-client iproute2 haproxy procps                           # the lab fleet
  bpftrace                                                                        # bench peer for the probe
  ansible-core                                                                    # bench peer for the fleet report (bench/fleet-scale.ts)
  prometheus prometheus-node-exporter                                             # promtool oracle, alert rules tests, the fleet e2e
  systemd                                                                         # systemd-sysctl: the boot applier the differential test checks against
  libxml2-utils chromium                                                          # report oracles: xmllint (JUnit XSD), headless Chromium
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to install Debian packages" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "setup: build"
npm run --silent build

# Bash completion and man page (generated from the CLI's help text by scripts/gen-cli-docs.ts, committed in contrib/):
# into /usr/local/share as root, else into the repo-local prefix .local/share.
if [ "$(id -u)" -eq 0 ]; then share=/usr/local/share; else share="$PWD/.local/share"; fi
install -D -m 0644 contrib/kdrift.bash-completion "$share/bash-completion/completions/kdrift"
install -D -m 0644 contrib/kdrift.1 "$share/man/man1/kdrift.1"
echo "setup: installed completion and man page under $share"
echo "setup: done"
