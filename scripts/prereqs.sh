#!/usr/bin/env bash
# The system packages `make up` and `make test` need, checked before anything else runs.
# As root with apt (CI, a fresh VM) they are installed; otherwise the command stops at once,
# naming exactly what to install, instead of failing (or skipping) a test minutes later.
set -euo pipefail
mode=${1:-test}  # up | test

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)  # TorchServe's frontend
if [ "$mode" = test ]; then
  command -v make >/dev/null 2>&1 || need+=(make)
  # the microphone-training test records from a real (virtual ALSA) capture device
  ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || need+=(libportaudio2)
  # the /demo page is tested in a real headless browser with a fake microphone
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
  # deployment checks render the compose file and the Kustomize overlays
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
  # the speaker store and the scale-out test run on a real PostgreSQL server
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  exit 0
fi
echo "make $mode needs these system packages, which are missing: ${need[*]}" >&2
echo "install them first, e.g.: sudo apt-get install ${need[*]}" >&2
exit 1
