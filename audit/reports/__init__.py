"""Reports: the management review input pack (ISO 9001 9.3.2) and exports."""
