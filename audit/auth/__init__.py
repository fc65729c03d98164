"""Authentication (Flask-Login) and capability-based authorisation."""
