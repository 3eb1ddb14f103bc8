# azd postprovision hook on Windows: the twin of create-audit-chain-key.sh (keep the two in
# step; the header there says why the key is created here, once, and never overwritten).
#
# Reads the secret's id (never its value); absent: 32 bytes from .NET's CSPRNG go to a
# temporary file that `az keyvault secret set --file F --encoding hex` stores as 64 hex
# characters. A 403 while the deployer's new role assignment propagates is retried every
# MLOPS_KEY_VAULT_ROLE_INTERVAL seconds (default 15) for up to MLOPS_KEY_VAULT_ROLE_TIMEOUT
# (default 600); any other error stops the hook. A soft-deleted key is not replaced.
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

$vault = Get-AzdValue 'AZURE_KEY_VAULT_NAME'
$secret = if ($env:MLOPS_AUDIT_KEY_SECRET) { $env:MLOPS_AUDIT_KEY_SECRET } else { Get-AzdValue 'MLOPS_AUDIT_KEY_SECRET' }
if (-not $secret) { $secret = 'audit-chain-key' }
$timeout = if ($env:MLOPS_KEY_VAULT_ROLE_TIMEOUT) { [int] $env:MLOPS_KEY_VAULT_ROLE_TIMEOUT } else { 600 }
$interval = if ($env:MLOPS_KEY_VAULT_ROLE_INTERVAL) { [int] $env:MLOPS_KEY_VAULT_ROLE_INTERVAL } else { 15 }
if (-not $vault) {
    [Console]::Error.WriteLine('AZURE_KEY_VAULT_NAME must be set: run azd provision first')
    exit 1
}
if ($secret -cnotmatch '^[0-9A-Za-z-]{1,127}$') {
    [Console]::Error.WriteLine('MLOPS_AUDIT_KEY_SECRET is not a Key Vault secret name ([0-9A-Za-z-]{1,127})')
    exit 1
}

$retry = "run 'azd hooks run postprovision' again"
$deadline = (Get-Date).AddSeconds($timeout)
$stderrFile = (New-TemporaryFile).FullName
$keyFile = $null

# Wait out a 403 while the role assignment propagates; stop on anything else.
function Wait-ForRole([string] $What) {
    $lastError = (Get-Content -Raw $stderrFile)
    if (-not $lastError) { $lastError = '' }
    # Key Vault's 403 for a missing role (inner error ForbiddenByRbac); nothing else is waited out.
    if ($lastError -notmatch 'ForbiddenByRbac|not allowed by RBAC|Caller is not authorized to perform action') {
        [Console]::Error.WriteLine("$What failed for secret $secret in Key Vault ${vault}:")
        [Console]::Error.WriteLine($lastError.Trim())
        [Console]::Error.WriteLine("Nothing was changed; fix the cause and $retry.")
        exit 1
    }
    if ((Get-Date) -ge $deadline) {
        $message = @(
            "Timed out after ${timeout}s: Key Vault $vault still refuses $What (403).",
            'The deployer needs Key Vault Secrets Officer on the vault (key-vault.bicep grants',
            'it to AZURE_PRINCIPAL_ID); a new role assignment can take minutes to apply.',
            "Then $retry; MLOPS_KEY_VAULT_ROLE_TIMEOUT sets a longer wait. Last error:",
            $lastError.Trim()
        ) -join [Environment]::NewLine
        [Console]::Error.WriteLine($message)
        exit 1
    }
    Write-Host "Key Vault $vault refuses $What (403): waiting for the role assignment to apply"
    Start-Sleep -Seconds $interval
}

try {
    while ($true) {
        $ErrorActionPreference = 'Continue'
        & az keyvault secret show --vault-name $vault --name $secret `
            --query id --output tsv 2>$stderrFile | Out-Null
        $code = $LASTEXITCODE
        $ErrorActionPreference = 'Stop'
        if ($code -eq 0) {
            Write-Host "Audit chain key: $secret exists in Key Vault $vault; left as it is"
            exit 0
        }
        if ((Get-Content -Raw $stderrFile) -match 'SecretNotFound') { break }
        Wait-ForRole 'az keyvault secret show'
    }

    # The temporary folder is the user's own; the bytes never reach a command line.
    $keyFile = (New-TemporaryFile).FullName
    $bytes = New-Object byte[] 32
    $generator = [System.Security.Cryptography.RandomNumberGenerator]::Create()
    try { $generator.GetBytes($bytes) } finally { $generator.Dispose() }
    [System.IO.File]::WriteAllBytes($keyFile, $bytes)
    [Array]::Clear($bytes, 0, $bytes.Length)

    while ($true) {
        $ErrorActionPreference = 'Continue'
        & az keyvault secret set --vault-name $vault --name $secret `
            --file $keyFile --encoding hex --description 'HMAC-SHA256 key of the audit chain' `
            --query id --output tsv 2>$stderrFile | Out-Null
        $code = $LASTEXITCODE
        $ErrorActionPreference = 'Stop'
        if ($code -eq 0) {
            Write-Host "Audit chain key: $secret created in Key Vault $vault"
            exit 0
        }
        if ((Get-Content -Raw $stderrFile) -match 'ObjectIsDeletedButRecoverable|deleted but recoverable') {
            $message = @(
                "Secret $secret in Key Vault $vault is deleted but recoverable: it holds the key",
                'that sealed the audit trail, so it is not replaced. Recover it:',
                "  az keyvault secret recover --vault-name $vault --name $secret",
                "(never purge it: records sealed with it would no longer verify), then $retry."
            ) -join [Environment]::NewLine
            [Console]::Error.WriteLine($message)
            exit 1
        }
        Wait-ForRole 'az keyvault secret set'
    }
}
finally {
    Remove-Item -Force $stderrFile -ErrorAction SilentlyContinue
    if ($keyFile) { Remove-Item -Force $keyFile -ErrorAction SilentlyContinue }
}
