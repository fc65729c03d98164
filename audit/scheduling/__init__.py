"""Scheduling adapter: one APScheduler process running fixed, idempotent sweep jobs.

The schedule lives in code (``jobs.JOBS``), the state lives in tables. Exactly one scheduler acts
at a time, guarded by a database lease (``lease.py``) that works on SQLite and PostgreSQL.
"""
