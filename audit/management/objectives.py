"""Quality objectives (ISO 9001 6.2): the register, measurements over time, their status.

Status is computed, never typed: from the latest measurement on or before a day against the
target, and the objective's due date. Measurements are entered one by one by the owner (or a
quality manager) or imported from CSV/XLSX; an import with any bad line stores nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.core.services import get_or_fail, save_with_trail
from audit.extensions import db
from audit.library.io import refuse_control_characters
from audit.models import Direction, Frequency, ObjectiveMeasurement, QualityObjective, Unit, User
from audit.trail.services import record, snapshot

ON_TRACK, AT_RISK, MISSED, NO_DATA = "on track", "at risk", "missed", "no data"
MAX_IMPORT_ROWS = 2000


def meets(value: Decimal, target: Decimal, direction: Direction) -> bool:
    """Whether ``value`` reaches ``target`` in the objective's direction."""
    return value >= target if direction is Direction.HIGHER else value <= target


def status_as_of(objective: QualityObjective, day: dt.date,
                 instant: dt.datetime | None = None) -> tuple[str, ObjectiveMeasurement | None]:
    """(status, latest measurement) of ``objective`` as it stood on ``day``.

    Only measurements dated on or before ``day`` (and entered before ``instant`` when given)
    count, so a past review sees what was known then. Uses the loaded ``measurements``.
    """
    known = [m for m in objective.measurements
             if m.measured_on <= day and (instant is None or m.created_at < instant)]
    if not known:
        return (MISSED if objective.due_on < day else NO_DATA), None
    latest = known[-1]
    if meets(Decimal(latest.value), Decimal(objective.target), objective.direction):
        return ON_TRACK, latest
    return (MISSED if objective.due_on <= day else AT_RISK), latest


def can_record(objective: QualityObjective, user) -> bool:
    """The owner records measurements of their objective; quality managers record any."""
    return user is not None and (user.can(Permission.MANAGE_QUALITY) or objective.owner_id == user.id)


def _decimal(raw, *, field: str, what: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise DomainError(f"{what} must be a number, e.g. 95.5 (got “{raw}”).", field=field) from None
    if not value.is_finite() or abs(value) >= Decimal("1e10"):
        raise DomainError(f"{what} must be a finite number below ten billion.", field=field)
    return value.quantize(Decimal("0.0001"))


def _text(value, limit: int | None = None) -> str | None:
    text = (value or "").strip() if isinstance(value, str) else value
    if text and limit and len(text) > limit:
        raise DomainError(f"Keep it under {limit} characters.")
    return text or None


def _objective_values(data: dict) -> dict:
    title = (data.get("title") or "").strip()
    if not title:
        raise DomainError("Name the objective.", field="title")
    measure = (data.get("measure") or "").strip()
    if not measure:
        raise DomainError("Say what is measured (e.g. on-time delivery).", field="measure")
    if data.get("target") in (None, ""):
        raise DomainError("Give the target value.", field="target")
    target = _decimal(data["target"], field="target", what="The target")
    unit_label = (data.get("target_unit") or "").strip()
    if not unit_label:
        raise DomainError("A target needs its unit (%, days, ppm, EUR ...): "
                          "a number alone cannot be judged.", field="target_unit")
    starts, due = data.get("starts_on"), data.get("due_on")
    if not isinstance(starts, dt.date) or not isinstance(due, dt.date):
        raise DomainError("Give the day measuring starts and the day the objective is due.",
                          field="due_on")
    if due < starts:
        raise DomainError("The due date is before the start.", field="due_on")
    try:
        direction, frequency = Direction(data.get("direction")), Frequency(data.get("frequency"))
    except ValueError:
        raise DomainError("Choose the direction and the frequency from the lists.",
                          field="direction") from None
    owner = get_or_fail(User, data.get("owner_id"), field="owner_id", what="owner")
    unit = get_or_fail(Unit, data.get("unit_id"), field="unit_id", what="unit", optional=True)
    return {
        "title": title[:200], "measure": measure[:200], "target": target, "target_unit": unit_label[:30],
        "direction": direction, "frequency": frequency, "owner": owner, "unit": unit,
        "starts_on": starts, "due_on": due,
        "policy_commitment": _text(data.get("policy_commitment")),
        "plan_what": _text(data.get("plan_what")), "plan_resources": _text(data.get("plan_resources")),
        "plan_who": _text(data.get("plan_who")), "plan_evaluation": _text(data.get("plan_evaluation")),
    }


def create_objective(data: dict, *, actor, now: dt.datetime) -> QualityObjective:
    """Add a quality objective; a target without its unit is refused."""
    values = _objective_values(data)
    objective = QualityObjective(created_at=now)
    return save_with_trail(objective, values, actor=actor, now=now, label=f"objective {values['title']}")


def update_objective(objective: QualityObjective, data: dict, *, actor, now: dt.datetime) -> QualityObjective:
    """Change an objective; existing measurements must stay inside its period."""
    values = _objective_values(data)
    outside = [m.measured_on for m in objective.measurements
               if not values["starts_on"] <= m.measured_on <= values["due_on"]]
    if outside:
        raise DomainError(f"Measurements of {outside[0]:%d %b %Y} would fall outside the new period.",
                          field="starts_on")
    return save_with_trail(objective, values, actor=actor, now=now, label=f"objective {objective.title}")


def _check_measurement(objective: QualityObjective, day, raw_value, taken: set) -> tuple[dt.date, Decimal]:
    if not isinstance(day, dt.date):
        raise DomainError("Give the date the value describes (YYYY-MM-DD).", field="measured_on")
    if not objective.starts_on <= day <= objective.due_on:
        raise DomainError(f"{day:%d %b %Y} is outside the objective's period "
                          f"({objective.starts_on:%d %b %Y} – {objective.due_on:%d %b %Y}).",
                          field="measured_on")
    if day in taken:
        raise DomainError(f"There is already a value for {day:%d %b %Y}.", field="measured_on")
    if raw_value in (None, ""):
        raise DomainError("Give the measured value.", field="value")
    return day, _decimal(raw_value, field="value", what="The value")


def record_measurement(objective: QualityObjective, data: dict, *, actor, now: dt.datetime) -> ObjectiveMeasurement:
    """Record one measured value; the day must lie in the objective's period."""
    if not can_record(objective, actor):
        raise NotAllowed("Only the objective's owner or a quality manager records its measurements.")
    taken = {m.measured_on for m in objective.measurements}
    day, value = _check_measurement(objective, data.get("measured_on"), data.get("value"), taken)
    m = ObjectiveMeasurement(objective=objective, measured_on=day, value=value,
                             note=_text(data.get("note")), recorded_by_id=getattr(actor, "id", None),
                             created_at=now)
    db.session.add(m)
    db.session.flush()
    record(objective, "measurement", actor=actor, now=now,
           summary=f"Recorded {value.normalize()} {objective.target_unit} for {day:%d %b %Y}",
           changes=snapshot({"measured_on": day, "value": value}))
    return m


class ImportErrors(DomainError):
    """An import refused as a whole: one message per bad line."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__(f"Nothing was imported: {len(lines)} line(s) need fixing. "
                         + " ".join(lines[:20]), field="file")


def read_rows(filename: str, content: bytes) -> list[list[str]]:
    """Rows of a CSV (UTF-8) or XLSX upload, header included, as strings."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many types for a damaged file
            raise DomainError("That file is not a readable XLSX workbook.", field="file") from None
        rows = []
        for row in book.worksheets[0].iter_rows(values_only=True):
            rows.append(["" if v is None else (v.date().isoformat() if isinstance(v, dt.datetime)
                                                else str(v)) for v in row])
            if len(rows) > MAX_IMPORT_ROWS + 1:
                break
        return rows
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError("Save the CSV as UTF-8 and try again.", field="file") from None
    if "\x00" in text:
        raise DomainError("That file is not a CSV text file.", field="file")
    refuse_control_characters(text)  # uploads pass the request edge unread
    return list(csv.reader(io.StringIO(text)))


def import_measurements(objective: QualityObjective, rows: list[list[str]], *, actor,
                        now: dt.datetime) -> int:
    """Import ``date,value[,note]`` rows (a header line is skipped). Any bad line: nothing stored,
    and every bad line is named with its reason."""
    if not can_record(objective, actor):
        raise NotAllowed("Only the objective's owner or a quality manager records its measurements.")
    if rows and rows[0] and rows[0][0].strip().lower() in ("date", "measured_on", "day"):
        rows, first = rows[1:], 2
    else:
        first = 1
    rows = [(n, r) for n, r in enumerate(rows, start=first) if any(c.strip() for c in r)]
    if not rows:
        raise DomainError("The file has no measurements (expected columns: date, value, note).", field="file")
    if len(rows) > MAX_IMPORT_ROWS:
        raise DomainError(f"Import at most {MAX_IMPORT_ROWS} lines at once.", field="file")
    taken = {m.measured_on for m in objective.measurements}
    good, errors = [], []
    for n, row in rows:
        raw_day = row[0].strip() if row else ""
        try:
            try:
                day = dt.date.fromisoformat(raw_day[:10])
            except ValueError:
                raise DomainError(f"“{raw_day}” is not a date (YYYY-MM-DD).") from None
            day, value = _check_measurement(objective, day, row[1] if len(row) > 1 else "", taken)
        except DomainError as exc:
            errors.append(f"Line {n}: {exc.message}")
            continue
        taken.add(day)
        good.append((day, value, (row[2].strip() if len(row) > 2 else "") or None))
    if errors:
        raise ImportErrors(errors)
    for day, value, note in good:
        db.session.add(ObjectiveMeasurement(objective=objective, measured_on=day, value=value, note=note,
                                            recorded_by_id=getattr(actor, "id", None), created_at=now))
    db.session.flush()
    record(objective, "import", actor=actor, now=now,
           summary=f"Imported {len(good)} measurement(s) of {objective.title}",
           changes={"count": len(good), "first": good[0][0].isoformat(), "last": good[-1][0].isoformat()})
    return len(good)
