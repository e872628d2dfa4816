#!/usr/bin/env bash
# Validate the deployment files with real tools: every Kustomize overlay rendered by kubectl and checked
# against the Kubernetes schemas (strict: unknown fields fail), the compose file by docker-compose, and
# the Dockerfiles by hadolint. Usage: scripts/check_deploy.sh [ROOT]  (default: the repository)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="${1:-$here}"
bin="${VENV:-$here/.venv}/bin"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for overlay in "$root"/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  "$bin/kubernetes-validate" --strict --quiet "$out/$name.yaml"
  echo "k8s/$name: valid"
done
docker-compose -f "$root/docker-compose.yml" config -q
echo "docker-compose.yml: valid"
"$bin/hadolint" --config "$root/.hadolint.yaml" "$root"/docker/*.Dockerfile
echo "Dockerfiles: hadolint clean"
