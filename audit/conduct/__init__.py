"""Conducting audits on tablets: the checklist screen, its JSON API, evidence and the report."""
