#!/usr/bin/env bash
# Installs the system tools that `make test` uses for real, from Debian's packages, when missing:
# tshark (the reference decoder), Chromium (UI tests), docker-compose (checks docker-compose.yml),
# tcpreplay (sends captures to the live sensor over a veth pair), nftables and iptables (check
# the block rules of response actions); and the Elasticsearch test node
# (the integ-test-zip distribution from Maven Central, fetched with mvn into the local repository
# and unpacked under .cache/elasticsearch by the tests).
set -euo pipefail

.venv/bin/python -c 'from tests.utils.elasticsearch import distribution, java_home
print("elasticsearch test node:", distribution(), "with", java_home())'

missing=()
command -v tshark >/dev/null || missing+=(tshark)
command -v tcpreplay >/dev/null || missing+=(tcpreplay)
command -v nft >/dev/null || missing+=(nftables)                 # checks generated block rules
command -v iptables-restore >/dev/null || missing+=(iptables)    # and their iptables form
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk" || missing+=(fonts-wqy-microhei)  # zh-CN screenshots
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing test tools: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
