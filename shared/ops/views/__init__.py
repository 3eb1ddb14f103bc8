"""Read models over the state store and the audit trail."""
