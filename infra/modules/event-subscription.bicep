// One Event Grid subscription: one route of infra/event-routing.json, delivered to one
// function of the app (endpoint type AzureFunction: the platform delivers with the webhook's
// system key, so no key is handled here), with an explicit retry policy and dead-lettering
// written with the system topic's own identity.

param systemTopicName string

@description('One entry of event-routing.json: name, function, includedEventTypes, subjectBeginsWith, subjectEndsWith, advancedFilters.')
param route object

param functionAppId string
param deadLetterAccountId string
param deadLetterContainerName string
param maxDeliveryAttempts int
param eventTimeToLiveInMinutes int

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: route.name
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${route.function}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: route.includedEventTypes
      subjectBeginsWith: route.subjectBeginsWith
      subjectEndsWith: route.subjectEndsWith
      advancedFilters: route.advancedFilters
      isSubjectCaseSensitive: true
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output id string = subscription.id
