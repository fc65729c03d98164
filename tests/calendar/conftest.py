"""Data helpers for the calendar tests (kept here so tests/factories.py stays others' to grow)."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest

from audit.extensions import db
from audit.models import (
    ActionKind,
    AgendaSession,
    AuditStatus,
    Certificate,
    CorrectiveAction,
    Finding,
    FindingStatus,
    Grade,
    Programme,
    SessionKind,
)

_seq = itertools.count(1)


def local(tz: str, *args) -> dt.datetime:
    """An aware UTC instant from a wall-clock time in ``tz``."""
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(dt.UTC)


class CalendarData:
    """Small builders on top of tests/factories.py."""

    def __init__(self, make, now):
        self.make = make
        self.now = now

    def scheduled_audit(self, *, site=None, day=dt.date(2026, 4, 14), hours=(9, 17), team=(),
                        units=(), **overrides):
        site = site or self.make.site()
        tz = site.timezone
        audit = self.make.audit(
            site=site, status=AuditStatus.SCHEDULED, team=list(team),
            starts_at=local(tz, day.year, day.month, day.day, hours[0]),
            ends_at=local(tz, day.year, day.month, day.day, hours[1]),
            revision=1, updated_at=self.now, **overrides,
        )
        audit.units = list(units)
        db.session.flush()
        return audit

    def session(self, audit, *, hour=10, kind=SessionKind.SESSION, unit=None, auditor=None, title=None):
        tz = audit.timezone
        day = audit.starts_at.astimezone(zoneinfo.ZoneInfo(tz)).date()
        obj = AgendaSession(audit=audit, kind=kind, title=title or f"Session {next(_seq)}",
                            unit=unit, auditor=auditor, location="Room 1",
                            starts_at=local(tz, day.year, day.month, day.day, hour),
                            ends_at=local(tz, day.year, day.month, day.day, hour + 1),
                            updated_at=self.now)
        db.session.add(obj)
        db.session.flush()
        return obj

    def finding(self, audit, owner, *, response_due=dt.date(2026, 4, 30), closure_due=dt.date(2026, 6, 30),
                status=FindingStatus.AWAITING_RESPONSE, statement="Secret statement about the boss"):
        obj = Finding(reference=f"{audit.reference}-F{next(_seq):02d}", audit=audit, grade=Grade.MINOR,
                      status=status, statement=statement, owner=owner, raised_at=self.now,
                      response_due_on=response_due, closure_due_on=closure_due, updated_at=self.now)
        db.session.add(obj)
        db.session.flush()
        return obj

    def action(self, finding, owner, *, due=dt.date(2026, 5, 20), description="Secret action text"):
        obj = CorrectiveAction(finding=finding, kind=ActionKind.CORRECTIVE, description=description,
                               owner=owner, due_on=due)
        db.session.add(obj)
        db.session.flush()
        return obj

    def programme(self, name="Internal audits 2026"):
        obj = Programme(name=name, period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31))
        db.session.add(obj)
        db.session.flush()
        return obj

    def certificate(self, *, decision=dt.date(2025, 6, 1), supplier=None):
        obj = Certificate(standard=self.make.standard(), number=f"CERT-{next(_seq)}", scope="Everything",
                          decision_date=decision, expiry_date=dt.date(decision.year + 3, decision.month,
                                                                      decision.day) - dt.timedelta(days=1),
                          supplier=supplier)
        db.session.add(obj)
        db.session.flush()
        return obj


@pytest.fixture
def cal(app, make, now):
    return CalendarData(make, now)
