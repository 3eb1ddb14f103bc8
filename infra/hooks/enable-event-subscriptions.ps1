# azd postdeploy hook on Windows: the twin of enable-event-subscriptions.sh (keep the two in
# step; the header there says why the hook exists and waits).
#
# Waits, bounded, until ARM lists every function that infra/event-routing.json routes events
# to, then provisions again with DEPLOY_EVENT_SUBSCRIPTIONS=true. MLOPS_FUNCTION_INDEX_TIMEOUT
# (seconds, default 600) and MLOPS_FUNCTION_INDEX_INTERVAL (default 15) tune the wait.
# Runs in PowerShell 7 (pwsh) and in Windows PowerShell 5.1, azd's fallback.
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
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)" }
}

if ((Get-AzdValue 'DEPLOY_EVENT_SUBSCRIPTIONS') -eq 'true') {
    Write-Host 'Event Grid subscriptions: already part of the deployment'
    exit 0
}

$routing = Join-Path (Join-Path $PSScriptRoot '..') 'event-routing.json'
$timeout = if ($env:MLOPS_FUNCTION_INDEX_TIMEOUT) { [int] $env:MLOPS_FUNCTION_INDEX_TIMEOUT } else { 600 }
$interval = if ($env:MLOPS_FUNCTION_INDEX_INTERVAL) { [int] $env:MLOPS_FUNCTION_INDEX_INTERVAL } else { 15 }
$app = Get-AzdValue 'AZURE_FUNCTION_APP_NAME'
$group = Get-AzdValue 'AZURE_RESOURCE_GROUP'
if (-not $app -or -not $group) {
    [Console]::Error.WriteLine('AZURE_FUNCTION_APP_NAME and AZURE_RESOURCE_GROUP must be set: run azd provision first')
    exit 1
}

$subscriptions = (Get-Content -Raw -Encoding UTF8 $routing | ConvertFrom-Json).subscriptions
$expected = @($subscriptions | ForEach-Object { $_.function } | Sort-Object -Unique)

$stderrFile = (New-TemporaryFile).FullName
try {
    $deadline = (Get-Date).AddSeconds($timeout)
    while ($true) {
        $ErrorActionPreference = 'Continue'
        $output = & az functionapp function list --name $app --resource-group $group `
            --query '[].name' --output tsv 2>$stderrFile
        $code = $LASTEXITCODE
        $ErrorActionPreference = 'Stop'
        $listed = @()
        if ($code -eq 0) {
            # ARM names each function "<app>/<function>"; keep the part after the last slash.
            $listed = @($output | ForEach-Object { ("$_".Trim() -split '/')[-1] } | Where-Object { $_ })
        }
        $missing = @($expected | Where-Object { $listed -cnotcontains $_ })
        if ($missing.Count -eq 0) {
            Write-Host "Function App $app lists every routed function: $($expected -join ' ')"
            break
        }
        if ((Get-Date) -ge $deadline) {
            $message = @(
                "Timed out after ${timeout}s waiting for Function App $app to list: $($missing -join ' ').",
                'The Event Grid subscriptions were not created. Check the deployment in the',
                "portal (Functions tab, Log stream), then run 'azd hooks run postdeploy' again;",
                'MLOPS_FUNCTION_INDEX_TIMEOUT sets a longer wait.'
            ) -join [Environment]::NewLine
            $lastError = (Get-Content -Raw $stderrFile)
            if ($lastError) {
                $message += [Environment]::NewLine + 'Last error from az functionapp function list:'
                $message += [Environment]::NewLine + $lastError.Trim()
            }
            [Console]::Error.WriteLine($message)
            exit 1
        }
        Write-Host "Waiting for Function App $app to index: $($missing -join ' ')"
        Start-Sleep -Seconds $interval
    }
}
finally {
    Remove-Item -Force $stderrFile -ErrorAction SilentlyContinue
}

Invoke-Native 'azd env set' { azd env set DEPLOY_EVENT_SUBSCRIPTIONS true }
$ErrorActionPreference = 'Continue'
& azd provision --no-prompt
$code = $LASTEXITCODE
$ErrorActionPreference = 'Stop'
if ($code -ne 0) {
    # Leave the environment as it was, so that the next run tries again instead of skipping.
    Invoke-Native 'azd env set' { azd env set DEPLOY_EVENT_SUBSCRIPTIONS false }
    [Console]::Error.WriteLine('azd provision with the Event Grid subscriptions failed')
    exit 1
}
