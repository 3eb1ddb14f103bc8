#!/usr/bin/env bash
# azd postdeploy hook: create the Event Grid subscriptions once the functions exist.
#
# An AzureFunction subscription is validated against the deployed function, so the first
# `azd provision` (before any code is deployed) leaves them out (deployEventSubscriptions
# false). After `azd deploy` this provisions again with them on; later runs are a no-op here
# because the environment remembers DEPLOY_EVENT_SUBSCRIPTIONS=true.
set -euo pipefail

if [[ "$(azd env get-value DEPLOY_EVENT_SUBSCRIPTIONS 2>/dev/null || true)" == "true" ]]; then
  echo "Event Grid subscriptions: already part of the deployment"
  exit 0
fi
azd env set DEPLOY_EVENT_SUBSCRIPTIONS true
azd provision --no-prompt
