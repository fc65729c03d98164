"""The audit trail: append-only change records written by every service."""
