"""Findings and their corrective-action workflow."""
