# azd preprovision hook on Windows: the twin of create-app-registration.sh (keep the two in
# step; the header there says what the app registration is for and who may create it).
#
# Already set (API_CLIENT_ID in the azd environment or the shell): nothing to do. Otherwise
# creates the app with the MLOps.Reader and MLOps.Deployer roles (infra/app-roles.json),
# the identifier URI api://<client id> and v2 access tokens, and stores its client id as
# API_CLIENT_ID. Runs in PowerShell 7 (pwsh) and in Windows PowerShell 5.1, azd's fallback.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# Native commands report through $LASTEXITCODE. Under 'Stop', Windows PowerShell 5.1 turns
# their stderr into terminating errors, so each call relaxes the preference for itself.
function Get-AzdValue([string] $Name) {
    $ErrorActionPreference = 'Continue'
    $value = (& azd env get-value $Name 2>$null | Out-String).Trim()
    # azd answers a missing key with "ERROR: ..." on stdout.
    if ($LASTEXITCODE -ne 0 -or $value.StartsWith('ERROR')) { return '' }
    return $value
}

function Invoke-Native([string] $What, [scriptblock] $Command) {
    $ErrorActionPreference = 'Continue'
    $output = & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)" }
    return $output
}

$existing = if ($env:API_CLIENT_ID) { $env:API_CLIENT_ID } else { Get-AzdValue 'API_CLIENT_ID' }
if ($existing -and -not $existing.StartsWith('ERROR')) {
    Write-Host "API app registration: $existing (API_CLIENT_ID already set)"
    exit 0
}

$roles = Join-Path (Join-Path $PSScriptRoot '..') 'app-roles.json'
$envName = Invoke-Native 'azd env get-value AZURE_ENV_NAME' { azd env get-value AZURE_ENV_NAME }
$displayName = "mlops-api-$(("$envName").Trim())"

$clientId = Invoke-Native 'az ad app create' {
    az ad app create `
        --display-name $displayName `
        --sign-in-audience AzureADMyOrg `
        --app-roles "@$roles" `
        --query appId --output tsv
}
$clientId = "$clientId".Trim()
Invoke-Native 'az ad app update' { az ad app update --id $clientId --identifier-uris "api://$clientId" }
# v2 tokens: the issuer authsettingsV2 validates is <login endpoint>/<tenant>/v2.0.
Invoke-Native 'az ad app update' { az ad app update --id $clientId --set api.requestedAccessTokenVersion=2 }
# A service principal in this tenant, so that app roles can be assigned to users and apps.
# Like the sh twin, an existing one is not an error.
$ErrorActionPreference = 'Continue'
& az ad sp create --id $clientId --output none
$ErrorActionPreference = 'Stop'

Invoke-Native 'azd env set' { azd env set API_CLIENT_ID $clientId }
Write-Host "API app registration created: $displayName ($clientId)"
