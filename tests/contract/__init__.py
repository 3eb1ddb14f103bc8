"""Contract tests: real Azure SDK clients against a recording transport."""
