"""Cross-cutting infrastructure: database set-up, security, errors, templating, domain errors."""
