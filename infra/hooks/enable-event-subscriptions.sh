#!/usr/bin/env bash
# azd postdeploy hook: create the Event Grid subscriptions once the functions exist.
#
# An AzureFunction subscription is validated against the deployed function ("Destination
# endpoint not found" otherwise), so the first `azd provision` (before any code is deployed)
# leaves them out (deployEventSubscriptions false). After `azd deploy` this provisions again
# with them on; later runs are a no-op here because the environment remembers
# DEPLOY_EVENT_SUBSCRIPTIONS=true.
#
# On Flex Consumption `azd deploy` returns before the host has indexed the new package, so
# this first waits, bounded, until ARM lists every function that infra/event-routing.json
# routes events to. MLOPS_FUNCTION_INDEX_TIMEOUT (seconds, default 600) and
# MLOPS_FUNCTION_INDEX_INTERVAL (default 15) tune the wait. infra/hooks/
# enable-event-subscriptions.ps1 is the Windows twin: keep the two in step.
set -euo pipefail

if [[ "$(azd env get-value DEPLOY_EVENT_SUBSCRIPTIONS 2>/dev/null || true)" == "true" ]]; then
  echo "Event Grid subscriptions: already part of the deployment"
  exit 0
fi

here="$(cd "$(dirname "$0")" && pwd)"
routing="${here}/../event-routing.json"
timeout="${MLOPS_FUNCTION_INDEX_TIMEOUT:-600}"
interval="${MLOPS_FUNCTION_INDEX_INTERVAL:-15}"
app="$(azd env get-value AZURE_FUNCTION_APP_NAME 2>/dev/null || true)"
group="$(azd env get-value AZURE_RESOURCE_GROUP 2>/dev/null || true)"
# azd answers a missing key with "ERROR: ..." on stdout.
if [[ -z "$app" || "$app" == ERROR* || -z "$group" || "$group" == ERROR* ]]; then
  echo "AZURE_FUNCTION_APP_NAME and AZURE_RESOURCE_GROUP must be set: run azd provision first" >&2
  exit 1
fi

python="$(command -v python3 || command -v python)"
# Function names are Python identifiers: a space-separated list is safe, and works in the
# bash 3.2 that macOS ships (no mapfile).
expected="$("$python" -c '
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    print(" ".join(sorted({s["function"] for s in json.load(f)["subscriptions"]})))
' "$routing")"

errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
deadline=$(($(date +%s) + timeout))
while :; do
  # ARM names each function "<app>/<function>"; keep the part after the last slash.
  listed="$(az functionapp function list --name "$app" --resource-group "$group" \
    --query "[].name" --output tsv 2>"$errors" | sed 's#.*/##' || true)"
  missing=""
  for fn in $expected; do
    case $'\n'"${listed}"$'\n' in
      *$'\n'"${fn}"$'\n'*) ;;
      *) missing="${missing} ${fn}" ;;
    esac
  done
  if [[ -z "$missing" ]]; then
    echo "Function App ${app} lists every routed function:${expected:+ }${expected}"
    break
  fi
  if (($(date +%s) >= deadline)); then
    {
      echo "Timed out after ${timeout}s waiting for Function App ${app} to list:${missing}."
      echo "The Event Grid subscriptions were not created. Check the deployment in the"
      echo "portal (Functions tab, Log stream), then run 'azd hooks run postdeploy' again;"
      echo "MLOPS_FUNCTION_INDEX_TIMEOUT sets a longer wait."
      if [[ -s "$errors" ]]; then
        echo "Last error from az functionapp function list:"
        cat "$errors"
      fi
    } >&2
    exit 1
  fi
  echo "Waiting for Function App ${app} to index:${missing}"
  sleep "$interval"
done

azd env set DEPLOY_EVENT_SUBSCRIPTIONS true
if ! azd provision --no-prompt; then
  # Leave the environment as it was, so that the next run tries again instead of skipping.
  azd env set DEPLOY_EVENT_SUBSCRIPTIONS false
  echo "azd provision with the Event Grid subscriptions failed" >&2
  exit 1
fi
