#!/usr/bin/env bash
# deps.sh - installs the Debian packages tunneltap needs (when root), or says
# the exact apt-get line to run and stops.
set -euo pipefail
build=(build-essential cmake pkg-config libpcap-dev libndpi-dev libcriterion-dev libjansson-dev
       libncurses-dev clang clang-format)
tools=(libndpi-bin tshark tcpdump tcpreplay iproute2 nftables dnsmasq nginx-light socat
       dnsutils curl iputils-ping tmux ethtool procps python3 strace spin)
# --aarch64: what tests/cross_aarch64.sh builds and runs the arm64 suite with.
cross=(gcc-aarch64-linux-gnu qemu-user mmdebstrap)
want=("${build[@]}")
for a in "$@"; do
  case $a in
    --test) want+=("${tools[@]}") ;;
    --aarch64) want+=("${cross[@]}") ;;
    *) echo "deps.sh: unknown option $a (--test, --aarch64)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "tunneltap needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
