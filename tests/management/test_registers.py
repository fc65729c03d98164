"""Objectives, measurements and imports: bad input gets a message per line and stores nothing;
list pages keep a constant query count."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.management import objectives as objs
from audit.management import registers
from audit.models import ObjectiveMeasurement, QualityObjective, Role

PERIOD = {"starts_on": dt.date(2025, 1, 1), "due_on": dt.date(2025, 12, 31)}


def _objective(make, now, **extra):
    owner = make.user(roles=(Role.AUDITEE,))
    coordinator = make.user(roles=(Role.COORDINATOR,))
    data = {"title": "On-time delivery", "measure": "Orders on time", "target": "95", "target_unit": "%",
            "direction": "higher", "frequency": "monthly", "owner_id": owner.id, **PERIOD, **extra}
    return objs.create_objective(data, actor=coordinator, now=now), owner, coordinator


def _measurements() -> int:
    return db.session.scalar(select(func.count(ObjectiveMeasurement.id)))


def test_target_without_unit_is_refused(app, make, now):
    """A target without its unit is refused on the unit field, naming why."""
    with pytest.raises(DomainError) as exc:
        _objective(make, now, target_unit=" ")
    assert exc.value.field == "target_unit" and "unit" in exc.value.message


def test_measurement_outside_the_period_is_refused(app, make, now):
    """A value dated outside the objective's period is refused with the period named."""
    objective, owner, _ = _objective(make, now)
    with pytest.raises(DomainError) as exc:
        objs.record_measurement(objective, {"measured_on": dt.date(2026, 1, 31), "value": "96"},
                                actor=owner, now=now)
    assert exc.value.field == "measured_on" and "outside the objective's period" in exc.value.message
    assert _measurements() == 0


def test_only_owner_or_quality_manager_records(app, make, now):
    """Someone else's measurement is refused (top management reads unless they own the objective)."""
    objective, _owner, _ = _objective(make, now)
    with pytest.raises(NotAllowed):
        objs.record_measurement(objective, {"measured_on": dt.date(2025, 3, 31), "value": "96"},
                                actor=make.user(roles=(Role.VIEWER,)), now=now)


def test_status_follows_target_direction_and_due_date(app, make, now):
    """At risk below target before the due date, on track when met, missed when due and not met."""
    objective, owner, _ = _objective(make, now)
    objs.record_measurement(objective, {"measured_on": dt.date(2025, 3, 31), "value": "90"}, actor=owner, now=now)
    assert objs.status_as_of(objective, dt.date(2025, 4, 1))[0] == objs.AT_RISK
    objs.record_measurement(objective, {"measured_on": dt.date(2025, 6, 30), "value": "96"}, actor=owner, now=now)
    assert objs.status_as_of(objective, dt.date(2025, 7, 1))[0] == objs.ON_TRACK
    objs.record_measurement(objective, {"measured_on": dt.date(2025, 12, 31), "value": "94"}, actor=owner, now=now)
    assert objs.status_as_of(objective, dt.date(2026, 1, 5))[0] == objs.MISSED
    assert objs.status_as_of(objective, dt.date(2025, 1, 2))[0] == objs.NO_DATA


def test_csv_import_with_errors_names_each_line_and_stores_nothing(app, make, now, login):
    """Three bad lines of five: each is named with its reason and no measurement is stored."""
    objective, owner, _ = _objective(make, now)
    csv_text = ("date,value,note\n2025-01-31,93.5,ok\n2025-13-01,90,\n2025-02-28,abc,\n"
                "2026-03-31,97,\n2025-04-30,96,\n")
    client = login(owner)
    response = client.post(f"/management/objectives/{objective.id}/import",
                           data={"file": (io.BytesIO(csv_text.encode()), "m.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Line 3: “2025-13-01” is not a date" in response.text
    assert "Line 4: The value must be a number" in response.text
    assert "Line 5: 31 Mar 2026 is outside the objective" in response.text
    assert "Line 2" not in response.text and _measurements() == 0


def test_xlsx_import_stores_every_line(app, make, now, login):
    """A clean workbook imports all its lines, with a trail entry."""
    objective, owner, _ = _objective(make, now)
    book = Workbook()
    sheet = book.active
    sheet.append(["date", "value", "note"])
    sheet.append([dt.datetime(2025, 1, 31), 93.5, "January"])
    sheet.append(["2025-02-28", 94, None])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    response = login(owner).post(f"/management/objectives/{objective.id}/import",
                                 data={"file": (out, "m.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 302
    assert _measurements() == 2


def test_objective_form_without_unit_shows_message_and_stores_nothing(app, make, login):
    """Through the page: a target without a unit re-renders the form with the message."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    response = login(coordinator).post("/management/objectives/new", data={
        "title": "Scrap", "measure": "Scrap rate", "target": "1.5", "target_unit": "", "direction": "lower",
        "frequency": "monthly", "owner_id": coordinator.id, "unit_id": 0,
        "starts_on": "2025-01-01", "due_on": "2025-12-31"})
    assert response.status_code == 400 and "A target needs its unit" in response.text
    assert db.session.scalar(select(func.count(QualityObjective.id))) == 0


def test_complaint_raises_an_audit_trigger(app, make, now):
    """A complaint about a unit records a complaint trigger, which plans an audit of that unit."""
    from audit.models import AuditTrigger, Programme, ProgrammeStatus, TriggerKind

    coordinator = make.user(roles=(Role.COORDINATOR,))
    unit = make.unit(owner=make.user(roles=(Role.AUDITEE,)))
    db.session.add(Programme(name="P", period_start=now.date().replace(month=1, day=1),
                             period_end=now.date().replace(month=12, day=31), status=ProgrammeStatus.ACTIVE,
                             objectives="x"))
    complaint = registers.create_complaint({"customer": "Acme", "received_on": now.date(), "severity": "high",
                                            "unit_id": unit.id}, actor=coordinator, now=now)
    trigger = registers.raise_complaint_audit(complaint, actor=coordinator, now=now)
    assert trigger.kind is TriggerKind.COMPLAINT and trigger.audit is not None
    assert complaint.trigger_id == trigger.id and db.session.scalar(select(func.count(AuditTrigger.id))) == 1
    with pytest.raises(DomainError):
        registers.raise_complaint_audit(complaint, actor=coordinator, now=now)


@pytest.mark.parametrize("path", ["/management/objectives/", "/management/indicators/", "/management/risks/",
                                  "/management/complaints/", "/management/", "/management/reviews/", "/"])
def test_list_pages_keep_a_constant_query_count(app, make, now, login, count_queries, path):
    """Ten times the rows cost no extra queries on the register and review list pages."""
    from audit.management import reviews

    coordinator = make.user(roles=(Role.COORDINATOR, Role.VIEWER))

    def add(n):
        for _ in range(n):
            objective, owner, _ = _objective(make, now)
            objs.record_measurement(objective, {"measured_on": dt.date(2025, 2, 28), "value": "9"},
                                    actor=owner, now=now)
            unit = make.unit(owner=owner)
            registers.create_indicator({"unit_id": unit.id, "name": f"I{objective.id}", "target": "1",
                                        "target_unit": "%", "direction": "higher"}, actor=coordinator, now=now)
            registers.create_risk({"title": f"R{objective.id}", "kind": "risk", "likelihood": 2, "impact": 3,
                                   "owner_id": owner.id, "identified_on": now.date()}, actor=coordinator, now=now)
            registers.create_complaint({"customer": "C", "received_on": now.date(), "severity": "low",
                                        "unit_id": unit.id}, actor=coordinator, now=now)
            start = dt.date(2000 + objective.id % 90, 1, 1)
            reviews.plan_review({"title": "R", "period_start": start, "period_end": start.replace(month=12, day=31),
                                 "planned_on": start.replace(year=start.year + 1), "chair_id": coordinator.id},
                                actor=coordinator, now=now)
        db.session.commit()

    client = login(coordinator)
    add(1)
    client.get(path)
    with count_queries() as few:
        assert client.get(path).status_code == 200
    add(10)
    client.get(path)  # the same warm-up as before: the commit expired the logged-in user
    with count_queries() as many:
        assert client.get(path).status_code == 200
    assert many.count == few.count, "\n".join(s[:150] for s in many.statements) + "\n---\n" + "\n".join(s[:150] for s in few.statements)


def test_indicators_show_on_the_unit_page_and_the_audit_page(app, make, now, login):
    """A unit's indicators and latest results appear on its page and on the page of an audit of it."""
    coordinator = make.user(roles=(Role.COORDINATOR,))
    unit = make.unit(owner=coordinator)
    indicator = registers.create_indicator({"unit_id": unit.id, "name": "Picking accuracy", "target": "99.5",
                                            "target_unit": "%", "direction": "higher"}, actor=coordinator, now=now)
    registers.record_indicator_result(indicator, {"period_end": dt.date(2026, 2, 28), "value": "99.7"},
                                      actor=coordinator, now=now)
    audit = make.audit(site=unit.site)
    audit.units = [unit]
    client = login(coordinator)
    for path in (f"/organisation/units/{unit.id}", f"/audits/{audit.id}"):
        page = client.get(path).text
        assert "<h2>Process indicators</h2>" in page and "Picking accuracy" in page and "99.7" in page
