#!/usr/bin/env bash
# Build the serving image in the environment's registry with ACR Tasks (no Docker daemon on the
# agent), push it as mlops/sklearn-serving:<commit>, and print the digest it was pushed under.
# The push fires ImagePushed; the app checks that digest with the registry and rolls the
# serving deployment forward to <registry>/mlops/sklearn-serving@<digest>.
#
# Usage: infra/pipelines/build-serving-image.sh COMMIT [SOURCE_URL]
#   COMMIT is the image's tag and its org.opencontainers.image.revision label; SOURCE_URL its
#   org.opencontainers.image.source label.
# Needs: `az` signed in as an identity holding Container Registry Tasks Contributor on the
#   registry (infra/modules/rbac-workspace.bicep grants the deployer that role);
#   AZURE_CONTAINER_REGISTRY_NAME from the environment, else from the selected azd environment.
# Waits: MLOPS_BUILD_POLL_INTERVAL seconds between reads of the run (10), at most
#   MLOPS_BUILD_POLL_TIMEOUT in all (3600) once its log stream ends.
# Writes: the image reference by digest to stdout, to the GitHub step summary and the `digest`
#   step output (GITHUB_STEP_SUMMARY, GITHUB_OUTPUT), or to the Azure Pipelines run summary.
# Exits 1 when the run fails, is canceled or times out, or reports no digest.
set -euo pipefail

usage="usage: build-serving-image.sh COMMIT [SOURCE_URL]"
commit="${1:?$usage}"
source_url="${2:-unknown}"
# The allow-listed repository (MLOPS_ALLOWED_REPOSITORIES' default, the Event Grid route's).
repository="mlops/sklearn-serving"
dockerfile="training/serving/Dockerfile"
context="training/"
interval="${MLOPS_BUILD_POLL_INTERVAL:-10}"
timeout="${MLOPS_BUILD_POLL_TIMEOUT:-3600}"

say() { echo "build-serving-image: $*"; }

fail() {
  echo "build-serving-image: $*" >&2
  exit 1
}

[[ "$commit" =~ ^[0-9A-Za-z._-]{1,128}$ ]] || fail "COMMIT is not a valid image tag: $commit"

registry="${AZURE_CONTAINER_REGISTRY_NAME:-}"
if [[ -z "$registry" ]]; then
  registry="$(azd env get-value AZURE_CONTAINER_REGISTRY_NAME 2>/dev/null || true)"
fi
[[ -n "$registry" && "$registry" != ERROR* ]] ||
  fail "AZURE_CONTAINER_REGISTRY_NAME is not set (nor an azd environment value)"

# The Dockerfile path is relative to the working directory, the context to the repository.
cd "$(dirname "$0")/../.."

say "building $repository:$commit in $registry from $dockerfile"
run_id="$(az acr build --registry "$registry" --image "$repository:$commit" \
  --file "$dockerfile" --build-arg "SOURCE_COMMIT=$commit" --build-arg "SOURCE_URL=$source_url" \
  --no-wait --query runId --output tsv "$context")"
[[ "$run_id" =~ ^[0-9A-Za-z-]+$ ]] || fail "az acr build queued no run (answer: $run_id)"
say "run $run_id queued"

# The run's log until it ends; a broken stream is not the run's failure: its status decides.
az acr task logs --registry "$registry" --run-id "$run_id" ||
  say "the log stream of run $run_id ended early; reading its status"

run_field() {
  az acr task show-run --registry "$registry" --run-id "$run_id" --query "$1" --output tsv
}

waited=0
while :; do
  status="$(run_field status)"
  case "$status" in
    Succeeded) break ;;
    Failed | Canceled | Error | Timeout) fail "run $run_id ended $status: nothing was pushed" ;;
  esac
  ((waited < timeout)) || fail "run $run_id is still $status after ${timeout}s"
  sleep "$interval"
  waited=$((waited + interval))
done

digest="$(run_field 'outputImages[0].digest')"
login_server="$(run_field 'outputImages[0].registry')"
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "run $run_id reports no digest (got: $digest)"
image="$login_server/$repository@$digest"
say "pushed $repository:$commit as $image"

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  echo "digest=$digest" >>"$GITHUB_OUTPUT"
fi
summary="### Serving image

| | |
|---|---|
| image | \`$image\` |
| tag | \`$repository:$commit\` |
| ACR run | \`$run_id\` |

The push fires ImagePushed: \`mlops status\` shows the rollout of this digest."
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  printf '%s\n' "$summary" >>"$GITHUB_STEP_SUMMARY"
elif [[ -n "${TF_BUILD:-}" ]]; then
  file="${AGENT_TEMPDIRECTORY:-${TMPDIR:-/tmp}}/serving-image-$run_id.md"
  printf '%s\n' "$summary" >"$file"
  echo "##vso[task.uploadsummary]$file"
fi
