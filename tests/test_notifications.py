"""In-app notifications: list, unread count in the header, mark read, per-kind preferences."""

from __future__ import annotations

import datetime as dt

from audit.extensions import db
from audit.models import Notification, NotificationPreference
from audit.notifications.services import notify, unread_count

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def test_unread_count_and_mark_read(app, make, login):
    """The header shows the unread count; opening a notification marks it read and follows its link."""
    user = make.user()
    note = notify(user, kind="audit_prepare", title="Prepare IA-1", link="/audits/", dedupe_key="k1", now=NOW)
    notify(user, kind="audit_prepare", title="Prepare IA-2", dedupe_key="k2", now=NOW)
    db.session.commit()
    client = login(user)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "Prepare IA-1" in page and 'Notifications: 2 unread' in page
    response = client.post(f"/notifications/{note.id}/read")
    assert response.status_code == 302 and response.headers["Location"].endswith("/audits/")
    assert unread_count(user) == 1
    client.post("/notifications/read-all")
    assert unread_count(user) == 0


def test_cannot_read_someone_elses(app, make, login):
    """A notification of another person is not found."""
    owner, other = make.user(), make.user()
    note = notify(owner, kind="audit_prepare", title="x", dedupe_key="k", now=NOW)
    db.session.commit()
    assert login(other).post(f"/notifications/{note.id}/read").status_code == 404


def test_preferences_page_and_effect(app, make, login):
    """A user switches e-mail off for one kind: later notifications of that kind are not e-mailed."""
    user = make.user()
    db.session.commit()
    client = login(user)
    assert "Audit tomorrow" in client.get("/notifications/preferences").get_data(as_text=True)
    form = {f"{k}-{c}": "on" for k in ("audit_prepare", "audit_plan") for c in ("app", "email")}
    form["audit_day_before-app"] = "on"  # e-mail off for day-before
    client.post("/notifications/preferences", data=form)
    pref = db.session.query(NotificationPreference).filter_by(user_id=user.id, kind="audit_day_before").one()
    assert pref.in_app and not pref.email
    note = notify(user, kind="audit_day_before", title="Tomorrow", dedupe_key="d1", now=NOW)
    assert note.email_wanted is False and note.emailed_at == NOW


def test_duplicate_key_sends_nothing(app, make):
    """The same dedupe key never creates a second notification."""
    user = make.user()
    assert notify(user, kind="x", title="a", dedupe_key="same", now=NOW)
    assert notify(user, kind="x", title="a", dedupe_key="same", now=NOW) is None
    assert db.session.query(Notification).count() == 1
