// The user-assigned identities. Created first and on their own so that every role assignment
// can name its principal before the resources that use it exist, and so that an identity
// outlives a redeploy of the resource that carries it (no re-granting after a rebuild).

@description('Location of the identities.')
param location string

@description('Tags applied to every identity.')
param tags object

@description('Name of the Function App\'s identity.')
param functionIdentityName string

@description('Name of the identity the managed online endpoints run as (pulls images, reads models).')
param endpointIdentityName string

@description('Name of the identity of the Azure ML compute cluster (the workspace has its own, system-assigned).')
param computeIdentityName string

resource functionIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: functionIdentityName
  location: location
  tags: tags
}

resource endpointIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: endpointIdentityName
  location: location
  tags: tags
}

// A third identity, for the compute cluster the training job runs on: it writes job outputs
// and models to the workspace's storage, which neither the app nor the endpoints should do.
// The workspace itself runs as its system-assigned identity (ml-workspace.bicep says why).
resource computeIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: computeIdentityName
  location: location
  tags: tags
}

output functionIdentityId string = functionIdentity.id
output functionIdentityName string = functionIdentity.name
output functionClientId string = functionIdentity.properties.clientId
output functionPrincipalId string = functionIdentity.properties.principalId
output endpointIdentityId string = endpointIdentity.id
output endpointIdentityName string = endpointIdentity.name
output endpointClientId string = endpointIdentity.properties.clientId
output endpointPrincipalId string = endpointIdentity.properties.principalId
output computeIdentityId string = computeIdentity.id
output computeIdentityName string = computeIdentity.name
output computePrincipalId string = computeIdentity.properties.principalId
