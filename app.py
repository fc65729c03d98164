"""Entry point: ``flask --app app run`` and ``gunicorn app:app``."""

from audit import create_app

app = create_app()
