"""Output only: text, rich tables and the HTML report."""
