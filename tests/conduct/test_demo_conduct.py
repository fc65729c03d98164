"""The demo step: answers, agenda and reports for the tablet journey, idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from audit.conduct.checklist_read import build_checklist
from audit.demo import DEMO_PASSWORD, DemoContext, seed_demo
from audit.demo.conduct import seed
from audit.extensions import db
from audit.models import AgendaSession, Audit, AuditReport, ChecklistAnswer


def _counts():
    return tuple(db.session.scalar(select(func.count(m.id))) for m in (ChecklistAnswer, AgendaSession, AuditReport))


def test_demo_fills_todays_audit_and_is_idempotent(app, client, now):
    """Today's audit has an agenda, some answers and a previous audit to compare; a rerun adds nothing."""
    seed_demo(now=now)
    db.session.commit()
    first = _counts()
    assert all(first)
    seed_demo(now=now)
    db.session.commit()
    assert _counts() == first
    audit = db.session.scalar(select(Audit).where(Audit.generation_key == "demo:ia-machining"))
    checklist = build_checklist(audit)
    assert 0 < checklist.done < checklist.total
    assert checklist.previous_audit is not None
    assert any(r.previous for r in checklist.rows)
    assert [s.kind.value for s in audit.sessions][0] == "opening"
    client.post("/login", data={"email": audit.lead.email, "password": DEMO_PASSWORD})
    assert client.get(f"/audits/{audit.id}/checklist").status_code == 200


def test_demo_step_without_programme_does_nothing(app, now):
    """Without the programme step's audits the conduct step leaves the database alone."""
    seed(DemoContext(now=now, scale=1))
    assert _counts() == (0, 0, 0)
