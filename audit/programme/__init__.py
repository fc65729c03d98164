"""Audit programmes: rules that generate audits, certification cycles, planner, coverage, workload."""
