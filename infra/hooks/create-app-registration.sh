#!/usr/bin/env bash
# azd preprovision hook: the Entra app registration that protects the HTTP API.
#
# Bicep cannot create app registrations (that needs Microsoft Graph), so this script does it
# once per azd environment with the Azure CLI: an app with the MLOps.Reader and
# MLOps.Deployer app roles (infra/app-roles.json), the identifier URI api://<client id>, and
# v2 access tokens. Its client id is stored as API_CLIENT_ID, which main.parameters.json
# passes to the Function App's authsettingsV2.
#
# Already set (API_CLIENT_ID in the azd environment or the shell): nothing to do. Needs
# permission to create applications in the tenant (Application Developer, or users allowed
# to register apps). Without it, ask an administrator to run this script, then
# `azd env set API_CLIENT_ID <client id>`.
#
# Assign the roles afterwards, for example:
#   az ad app show --id "$API_CLIENT_ID" --query "appRoles[].{value:value,id:id}"
#   then grant a user or group the role in Entra ID > Enterprise applications > the app.
set -euo pipefail

existing="${API_CLIENT_ID:-$(azd env get-value API_CLIENT_ID 2>/dev/null || true)}"
if [[ -n "$existing" && "$existing" != ERROR* ]]; then
  echo "API app registration: $existing (API_CLIENT_ID already set)"
  exit 0
fi

here="$(cd "$(dirname "$0")" && pwd)"
env_name="$(azd env get-value AZURE_ENV_NAME)"
display_name="mlops-api-${env_name}"

client_id="$(az ad app create \
  --display-name "$display_name" \
  --sign-in-audience AzureADMyOrg \
  --app-roles "@${here}/../app-roles.json" \
  --query appId --output tsv)"
az ad app update --id "$client_id" --identifier-uris "api://${client_id}"
# v2 tokens: the issuer authsettingsV2 validates is <login endpoint>/<tenant>/v2.0.
az ad app update --id "$client_id" --set api.requestedAccessTokenVersion=2
# A service principal in this tenant, so that app roles can be assigned to users and apps.
az ad sp create --id "$client_id" --output none || true

azd env set API_CLIENT_ID "$client_id"
echo "API app registration created: $display_name ($client_id)"
