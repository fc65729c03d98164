"""Sites, auditable units, suppliers, certification bodies and certificates."""
