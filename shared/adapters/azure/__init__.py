"""The Azure adapters: one module per service, each importing its SDK only when built."""
