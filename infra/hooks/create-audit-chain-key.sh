#!/usr/bin/env bash
# azd postprovision hook: create the audit chain key in Key Vault, once, if it is absent.
#
# The app seals every audit record with HMAC under this secret and only reads it (Key Vault
# Secrets User); without it every audit append fails and every event is retried. Bicep must
# not create it: a secret resource would replace the value on every deployment, and a new
# key breaks every record sealed before. So this hook, after every provision:
#   - reads the secret's id (`az keyvault secret show --query id`: never its value);
#   - present: leaves it alone, whatever it holds (never overwritten, never rotated here);
#   - absent (SecretNotFound): writes 32 random bytes (Python's secrets module) to a 0600
#     temporary file and lets `az keyvault secret set --file F --encoding hex` store them as 64 hex
#     characters, the form the app reads. The value is never on a command line, in the
#     azd environment, or printed.
# The deployer's Key Vault Secrets Officer grant (infra/modules/key-vault.bicep) is new on a
# first provision and takes a while to apply: a 403 (Forbidden) is retried every
# MLOPS_KEY_VAULT_ROLE_INTERVAL seconds (default 15) for up to MLOPS_KEY_VAULT_ROLE_TIMEOUT
# (default 600). Any other error stops the hook at once. A soft-deleted key is not replaced:
# recover it (records sealed with it verify again), never purge it.
# infra/hooks/create-audit-chain-key.ps1 is the Windows twin: keep the two in step.
set -euo pipefail

azd_value() {
  local value
  value="$(azd env get-value "$1" 2>/dev/null || true)"
  # azd answers a missing key with "ERROR: ..." on stdout.
  [[ "$value" == ERROR* ]] && value=""
  printf '%s' "$value"
}

vault="$(azd_value AZURE_KEY_VAULT_NAME)"
secret="${MLOPS_AUDIT_KEY_SECRET:-$(azd_value MLOPS_AUDIT_KEY_SECRET)}"
secret="${secret:-audit-chain-key}"
timeout="${MLOPS_KEY_VAULT_ROLE_TIMEOUT:-600}"
interval="${MLOPS_KEY_VAULT_ROLE_INTERVAL:-15}"
if [[ -z "$vault" ]]; then
  echo "AZURE_KEY_VAULT_NAME must be set: run azd provision first" >&2
  exit 1
fi
if [[ ! "$secret" =~ ^[0-9A-Za-z-]{1,127}$ ]]; then
  echo "MLOPS_AUDIT_KEY_SECRET is not a Key Vault secret name ([0-9A-Za-z-]{1,127})" >&2
  exit 1
fi

umask 077
errors="$(mktemp)"
keyfile=""
cleanup() { rm -f "$errors" ${keyfile:+"$keyfile"}; }
trap cleanup EXIT

retry="run 'azd hooks run postprovision' again"
deadline=$(($(date +%s) + timeout))

# Wait out a 403 while the role assignment propagates; stop on anything else.
forbidden_or_fail() {
  local what="$1"
  # Key Vault's 403 for a missing role: inner error ForbiddenByRbac ("Caller is not
  # authorized ... please observe propagation time"); other errors are not waited out.
  if ! grep -q -e 'ForbiddenByRbac' -e 'not allowed by RBAC' \
    -e 'Caller is not authorized to perform action' "$errors"; then
    {
      echo "${what} failed for secret ${secret} in Key Vault ${vault}:"
      cat "$errors"
      echo "Nothing was changed; fix the cause and ${retry}."
    } >&2
    exit 1
  fi
  if (($(date +%s) >= deadline)); then
    {
      echo "Timed out after ${timeout}s: Key Vault ${vault} still refuses ${what} (403)."
      echo "The deployer needs Key Vault Secrets Officer on the vault (key-vault.bicep grants"
      echo "it to AZURE_PRINCIPAL_ID); a new role assignment can take minutes to apply."
      echo "Then ${retry}; MLOPS_KEY_VAULT_ROLE_TIMEOUT sets a longer wait. Last error:"
      cat "$errors"
    } >&2
    exit 1
  fi
  echo "Key Vault ${vault} refuses ${what} (403): waiting for the role assignment to apply"
  sleep "$interval"
}

while :; do
  if az keyvault secret show --vault-name "$vault" --name "$secret" \
    --query id --output tsv >/dev/null 2>"$errors"; then
    echo "Audit chain key: ${secret} exists in Key Vault ${vault}; left as it is"
    exit 0
  fi
  if grep -q 'SecretNotFound' "$errors"; then
    break
  fi
  forbidden_or_fail "az keyvault secret show"
done

keyfile="$(mktemp)"
python="$(command -v python3 || command -v python)"
# 32 bytes from Python's CSPRNG (the secrets module), written by Python into the 0600 file.
"$python" -c 'import secrets, sys
with open(sys.argv[1], "wb") as f:
    f.write(secrets.token_bytes(32))' "$keyfile"
while :; do
  if az keyvault secret set --vault-name "$vault" --name "$secret" \
    --file "$keyfile" --encoding hex --description "HMAC-SHA256 key of the audit chain" \
    --query id --output tsv >/dev/null 2>"$errors"; then
    echo "Audit chain key: ${secret} created in Key Vault ${vault}"
    exit 0
  fi
  if grep -q -e 'ObjectIsDeletedButRecoverable' -e 'deleted but recoverable' "$errors"; then
    {
      echo "Secret ${secret} in Key Vault ${vault} is deleted but recoverable: it holds the key"
      echo "that sealed the audit trail, so it is not replaced. Recover it:"
      echo "  az keyvault secret recover --vault-name ${vault} --name ${secret}"
      echo "(never purge it: records sealed with it would no longer verify), then ${retry}."
    } >&2
    exit 1
  fi
  forbidden_or_fail "az keyvault secret set"
done
