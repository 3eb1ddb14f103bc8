"""What operators and developers type: never imported by what runs in Azure."""
