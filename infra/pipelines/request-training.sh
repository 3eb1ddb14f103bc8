#!/usr/bin/env bash
# Ask the deployed app to retrain a dataset on the files it already accepted, then wait until
# its reconciler has submitted the training job (bounded). The app submits and records the
# job, with the training code its package carries: the deploy gate deploys only versions of
# jobs the app recorded, so a job a pipeline submits itself (`az ml job create`) is refused.
#
# Usage: infra/pipelines/request-training.sh DATASET REASON [IDEMPOTENCY_KEY]
#   The same key again (a retried step) gets the first request's operation, never a second.
# Needs: `az` signed in as an identity holding the MLOps.Deployer app role of the API's app
#   registration; API_CLIENT_ID and AZURE_FUNCTION_APP_URL from the environment, else from
#   the selected azd environment; curl and python3 (JSON).
# Waits: MLOPS_TRAIN_POLL_INTERVAL seconds between reads (15), MLOPS_TRAIN_POLL_TIMEOUT in all
#   (900); answers 408, 409, 429, 5xx and connection errors are retried until then.
# Exits 0 once the app has submitted a job (named, with its status; a job that already failed
#   is a warning: training failures are the app's alerts), or when the dataset holds no
#   accepted file yet (a warning: the first upload trains). Exits 1 when refused, when no job
#   could be submitted (the reason is printed), or at the timeout.
set -euo pipefail

usage="usage: request-training.sh DATASET REASON [IDEMPOTENCY_KEY]"
dataset="${1:?$usage}"
reason="${2:?$usage}"
key="${3:-train-$(date -u +%Y%m%dT%H%M%S)-$$}"
interval="${MLOPS_TRAIN_POLL_INTERVAL:-15}"
timeout="${MLOPS_TRAIN_POLL_TIMEOUT:-900}"

say() { echo "request-training: $*"; }

warn() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    echo "::warning::request-training: $*"
  elif [[ -n "${TF_BUILD:-}" ]]; then
    echo "##vso[task.logissue type=warning]request-training: $*"
  else
    echo "request-training: warning: $*" >&2
  fi
}

fail() {
  echo "request-training: $*" >&2
  exit 1
}

# A setting from the environment, else from the selected azd environment.
azd_value() {
  local name="$1" found="${!1:-}"
  if [[ -z "$found" ]]; then
    found="$(azd env get-value "$name" 2>/dev/null || true)"
  fi
  [[ -n "$found" && "$found" != ERROR* ]] || fail "$name is not set (nor an azd environment value)"
  printf '%s' "$found"
}

# A value of the JSON document in a file, by dotted path; empty when absent or not JSON.
# Control characters are shown escaped: what the server says cannot write a log command.
field() {
  python3 - "$1" "$2" <<'PY'
import json, sys
try:
    node = json.load(open(sys.argv[1], encoding="utf-8"))
    for part in sys.argv[2].split("."):
        node = node.get(part) if isinstance(node, dict) else None
except (OSError, ValueError):
    node = None
text = "" if node is None else str(node)
print("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))
PY
}

app_url="$(azd_value AZURE_FUNCTION_APP_URL)"
app_url="${app_url%/}"
client_id="$(azd_value API_CLIENT_ID)"

umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The token goes to curl in a 0600 file, never on a command line other processes can read.
token="$(az account get-access-token --resource "api://${client_id}" --query accessToken --output tsv)"
[[ -n "$token" ]] || fail "no access token for api://${client_id}"
printf 'Authorization: Bearer %s\n' "$token" >"$work/auth"
unset token

path="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$dataset")"
python3 -c 'import json, sys; print(json.dumps({"reason": sys.argv[1]}))' "$reason" >"$work/body"

# call METHOD URL [BODY FILE]: the status code (000 when nothing answered); the body in answer.
call() {
  local data=()
  if [[ $# -gt 2 ]]; then
    data=(--header "Content-Type: application/json" --header "Idempotency-Key: ${key}"
      --data-binary "@$3")
  fi
  curl --silent --show-error --max-time 60 --output "$work/answer" --write-out '%{http_code}' \
    --request "$1" --header "@$work/auth" "${data[@]}" "$2" || echo 000
}

deadline=$((SECONDS + timeout))
retry_or_fail() {
  ((SECONDS < deadline)) || fail "$1"
  sleep "$interval"
}

while :; do
  code="$(call POST "${app_url}/api/datasets/${path}/train" "$work/body")"
  code="${code: -3}"
  case "$code" in
    202) break ;;
    404)
      if [[ "$(field "$work/answer" error)" == "nothing_to_train" ]]; then
        warn "$(field "$work/answer" message); nothing to retrain (the first upload trains)"
        exit 0
      fi
      fail "404 $(field "$work/answer" error): $(field "$work/answer" message)"
      ;;
    408 | 409 | 429 | 5?? | 000)
      say "the app answered ${code}; retrying with the same Idempotency-Key"
      retry_or_fail "no answer but ${code} after ${timeout} s"
      ;;
    *) fail "refused ${code} $(field "$work/answer" error): $(field "$work/answer" message)" ;;
  esac
done

operation="$(field "$work/answer" operation_id)"
status_url="$(field "$work/answer" status_url)"
[[ "$status_url" == /api/operations/* ]] || fail "the 202 carries no status URL"
say "operation ${operation}: training of dataset ${dataset} requested"

while :; do
  code="$(call GET "${app_url}${status_url}")"
  code="${code: -3}"
  if [[ "$code" == 200 ]]; then
    phase="$(field "$work/answer" phase)"
    job="$(field "$work/answer" job.name)"
    status="$(field "$work/answer" job.status)"
    case "$phase" in
      submitted | completed)
        say "job ${job} submitted by the app (${status})"
        exit 0
        ;;
      failed)
        [[ -n "$job" ]] || fail "no job submitted: $(field "$work/answer" error)"
        warn "job ${job} was submitted and failed: $(field "$work/answer" error)"
        exit 0
        ;;
      *) say "${phase:-unknown}: window due $(field "$work/answer" due)" ;;
    esac
  elif [[ ! "$code" =~ ^(408|429|5..|000)$ ]]; then
    fail "reading ${status_url}: ${code} $(field "$work/answer" error)"
  fi
  retry_or_fail "no job submitted after ${timeout} s (operation ${operation})"
done
