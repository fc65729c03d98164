"""Notifications: in-app list and e-mail outbox."""
