"""The Azure adapters against Azurite (Blob, Tables) and recording transports."""
