"""One module per `mlops` command group: parsing only."""
