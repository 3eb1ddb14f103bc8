"""The manual API: routes, HTTP mapping, the replayable answer, OpenAPI."""
