"""The subscription page's helpers: which feeds a person may choose, and their tokens' names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from audit.calendar.feeds import TARGET_MODELS, may_subscribe, target_name
from audit.extensions import db
from audit.models import Certificate, FeedKind, Programme, Site, Supplier, User


def subscription_choices(user: User) -> dict[str, list[tuple[str, str]]]:
    """Grouped choices for the subscription form: ``{"group": [("kind:id", label)]}``."""
    choices: dict[str, list[tuple[str, str]]] = {}
    if may_subscribe(user, FeedKind.PERSONAL):
        choices["Personal"] = [("personal", FeedKind.PERSONAL.label)]
    if may_subscribe(user, FeedKind.PROGRAMME):
        groups = (
            ("Programmes", FeedKind.PROGRAMME, select(Programme).order_by(Programme.period_start.desc(), Programme.id)),
            ("Sites", FeedKind.SITE, select(Site).where(Site.is_active.is_(True)).order_by(Site.name)),
            ("Suppliers", FeedKind.SUPPLIER, select(Supplier).order_by(Supplier.name)),
            ("Certificates", FeedKind.CERTIFICATE,
             select(Certificate).options(selectinload(Certificate.standard),
                                         selectinload(Certificate.supplier)).order_by(Certificate.id)),
        )
        for group, kind, query in groups:
            rows = db.session.scalars(query).all()
            if rows:
                choices[group] = [(f"{kind.value}:{row.id}", target_name(kind, row)) for row in rows]
    return choices


def parse_choice(value: str) -> tuple[FeedKind, int | None]:
    """``"site:3"`` → (FeedKind.SITE, 3); ``"personal"`` → (FeedKind.PERSONAL, None)."""
    kind_text, _, id_text = (value or "").partition(":")
    try:
        kind = FeedKind(kind_text)
    except ValueError:
        return FeedKind.PERSONAL, None
    return kind, int(id_text) if id_text.isdigit() else None


def token_names(tokens) -> dict[int, str]:
    """Display names of tokens' feeds, loading targets in one query per kind (not per token)."""
    wanted: dict[FeedKind, set[int]] = {}
    for token in tokens:
        if token.kind is not FeedKind.PERSONAL and token.target_id is not None:
            wanted.setdefault(token.kind, set()).add(token.target_id)
    found: dict[tuple[FeedKind, int], object] = {}
    for kind, ids in wanted.items():
        model = TARGET_MODELS[kind]
        query = select(model).where(model.id.in_(ids))
        if kind is FeedKind.CERTIFICATE:
            query = query.options(selectinload(Certificate.standard), selectinload(Certificate.supplier))
        for obj in db.session.scalars(query):
            found[(kind, obj.id)] = obj
    names = {}
    for token in tokens:
        if token.kind is FeedKind.PERSONAL:
            names[token.id] = target_name(token.kind, None)
        elif (token.kind, token.target_id) in found:
            names[token.id] = target_name(token.kind, found[(token.kind, token.target_id)])
        else:
            names[token.id] = f"{token.kind.label} (deleted)"
    return names
