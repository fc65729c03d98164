"""Command-line commands: ``flask --app app demo-data``, ``library load``, ``create-user``."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from audit.core.errors import DomainError
from audit.demo import seed_demo
from audit.extensions import db
from audit.library.services import DEFAULT_LIBRARY, load_library_file
from audit.models import User, utcnow
from audit.people.services import create_user as create


def register_cli(app: Flask) -> None:
    """Attach the project's commands to ``app.cli``."""

    @app.cli.command("demo-data")
    @click.option("--scale", default=1, show_default=True, type=click.IntRange(1, 1000),
                  help="Multiply the amount of generated data (for benchmarks).")
    @click.option("--if-empty", is_flag=True,
                  help="Do nothing when the database already has users (used by make run).")
    def demo_data(scale: int, if_empty: bool) -> None:
        """Seed the demo organisation, dated relative to today. Safe to run twice."""

        if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
            click.echo("Database already has data: demo data not seeded.")
            return
        summary = seed_demo(scale=scale, now=utcnow())
        db.session.commit()
        click.echo("Demo data ready: " + ", ".join(f"{v} {k}" for k, v in summary.items()))

    @app.cli.group("library")
    def library() -> None:
        """Clause library commands."""

    @library.command("load")
    @click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
    def library_load(path: str | None) -> None:
        """Load standards and clauses from a YAML file (default: the shipped ISO library)."""
        from pathlib import Path


        standards = load_library_file(Path(path) if path else DEFAULT_LIBRARY, now=utcnow())
        db.session.commit()
        for s in standards:
            click.echo(f"{s.label}: {len(s.clauses)} clauses")

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", "roles", multiple=True, default=["admin"], show_default=True)
    @click.password_option()
    def create_user(email: str, name: str, roles: tuple[str, ...], password: str) -> None:
        """Create an account (e.g. the first administrator of a production install)."""

        try:
            user = create(
                {"email": email, "name": name, "roles": list(roles), "password": password,
                 "timezone": "UTC", "is_active": True},
                actor=None, now=utcnow(),
            )
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        db.session.commit()
        click.echo(f"Created {user.email} with roles {', '.join(roles)}")
