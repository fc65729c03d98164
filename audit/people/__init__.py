"""People: user accounts, roles, auditor qualifications and training records."""
