"""Quality objectives (ISO 9001 6.2): the register, measurements over time, their status.

Status is computed, never typed: from the latest measurement on or before a day against the
target, and the objective's due date. Measurements are entered one by one by the owner (or a
quality manager) or imported from CSV/XLSX; an import with any bad line stores nothing.

An objective at risk or missed is its owner's turn (``owner_turns``, listed by the feature's
"waiting for me" source) and its owner is told once per episode (``announce_status``): when a
measurement is recorded, and by the feature's sweep when the due date passing makes it missed.
An open objective whose owner is missing or can no longer log in is the coordinators' turn to
name one (``unowned``); they are told when such an objective turns at risk or missed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from audit.auth.permissions import Permission
from audit.core.errors import DomainError, NotAllowed
from audit.core.services import active_owner, get_or_fail, save_with_trail
from audit.extensions import db
from audit.library.io import refuse_control_characters
from audit.models import (
    Direction,
    Frequency,
    ManagementReview,
    ObjectiveMeasurement,
    QualityObjective,
    ReviewStatus,
    Unit,
    User,
)
from audit.notifications.services import notify
from audit.people.services import coordinators
from audit.trail.services import record, snapshot

ON_TRACK, AT_RISK, MISSED, NO_DATA = "on track", "at risk", "missed", "no data"
MAX_IMPORT_ROWS = 2000

KINDS = {
    "objective_at_risk": "A quality objective you own is at risk (its latest measurement misses the target)",
    "objective_missed": "A quality objective you own was missed at its due date",
    "objective_unowned": "A quality objective at risk or missed has no owner who can log in (coordinators)",
}

#: Per status that makes an objective its owner's turn: (waiting-list label, what is expected).
OWNER_TURNS = {
    AT_RISK: ("Objective at risk: act on its plan",
              "Act on the objective's plan (what is done, resources, who) so that it is met by its due "
              "date, and record the next measurement."),
    MISSED: ("Objective missed: evaluate it",
             "Evaluate why it was missed and propose what follows (a new target, period or plan); "
             "it is an input to the next management review."),
}


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


def _value(value) -> str:
    return f"{Decimal(value).normalize():f}"


def target_text(objective: QualityObjective) -> str:
    """The target as people read it, e.g. "≥ 98 %"."""
    sign = "≥" if objective.direction is Direction.HIGHER else "≤"
    return f"{sign} {_value(objective.target)} {objective.target_unit}"


def latest_text(objective: QualityObjective, latest: ObjectiveMeasurement | None) -> str:
    """The latest measurement as people read it, e.g. "latest 97.2 % on 30 Nov 2026"."""
    if latest is None:
        return "no measurement recorded"
    return f"latest {_value(latest.value)} {objective.target_unit} on {latest.measured_on:%d %b %Y}"


def _reviewed_through():
    """The last day a held (or signed-off) management review's period covers, as a scalar
    subquery. A missed objective due by then was reported to that review (its pack judges
    objectives as of the period end), so it stops being its owner's turn."""
    return (select(func.max(ManagementReview.period_end))
            .where(ManagementReview.status.in_([ReviewStatus.HELD, ReviewStatus.SIGNED_OFF]))
            .scalar_subquery())


def _not_yet_reviewed():
    """Objectives still open to attention: due after the last reviewed period end."""
    reviewed = _reviewed_through()
    return select(QualityObjective).where(
        or_(reviewed.is_(None), QualityObjective.due_on > reviewed))


def owner_turns(user, today: dt.date) -> list[tuple[QualityObjective, str, ObjectiveMeasurement | None]]:
    """``(objective, status, latest measurement)`` of the objectives ``user`` owns that are at
    risk or missed on ``today`` (status: ``status_as_of``); two queries whatever their number."""
    rows = db.session.scalars(_not_yet_reviewed().where(QualityObjective.owner_id == user.id)
                              .options(selectinload(QualityObjective.measurements))
                              .order_by(QualityObjective.due_on, QualityObjective.id))
    turns = []
    for objective in rows:
        status, latest = status_as_of(objective, today)
        if status in OWNER_TURNS:
            turns.append((objective, status, latest))
    return turns


def has_active_owner(objective: QualityObjective) -> bool:
    """Whether someone who can log in owns ``objective`` (else it waits for the coordinators)."""
    return objective.owner is not None and objective.owner.is_active


def owner_text(objective: QualityObjective) -> str:
    """The owner as the register shows it, saying so when nobody active owns the objective."""
    if objective.owner is None:
        return "— (no owner: name one)"
    if not objective.owner.is_active:
        return f"{objective.owner.name} (can no longer log in: name a new owner)"
    return objective.owner.name


def unowned(today: dt.date) -> list[tuple[QualityObjective, str, ObjectiveMeasurement | None]]:
    """``(objective, status, latest measurement)`` of open objectives with no owner who can log
    in: the coordinators' turn to name one. Open: not yet reported to a held review, and still
    running (due on or after ``today``) or at risk or missed; an objective met at its due date
    needs nobody. Two queries whatever their number."""
    owner = aliased(User)
    rows = db.session.scalars(_not_yet_reviewed().outerjoin(owner, QualityObjective.owner_id == owner.id)
                              .where(or_(QualityObjective.owner_id.is_(None), owner.is_active.is_(False)))
                              .options(selectinload(QualityObjective.measurements),
                                       joinedload(QualityObjective.owner))
                              .order_by(QualityObjective.due_on, QualityObjective.id))
    stranded = []
    for objective in rows:
        status, latest = status_as_of(objective, today)
        if status in OWNER_TURNS or objective.due_on >= today:
            stranded.append((objective, status, latest))
    return stranded


def _episode(objective: QualityObjective, status: str, latest: ObjectiveMeasurement | None) -> str:
    """What one notice covers: for "at risk", the first measurement of the current run below
    target (later misses in the same run say nothing new; a recovery re-arms); for "missed",
    the due date (a moved due date re-arms)."""
    if status == MISSED:
        return f"{objective.due_on}"
    run_start = latest
    for m in reversed([m for m in objective.measurements if m.measured_on <= latest.measured_on]):
        if meets(Decimal(m.value), Decimal(objective.target), objective.direction):
            break
        run_start = m
    return f"{run_start.measured_on}"


def announce_status(objective: QualityObjective, *, now: dt.datetime,
                    stand_ins: list[User] | None = None) -> bool:
    """Tell the owner once that ``objective`` is at risk, and once that it was missed; with no
    owner who can log in, tell the coordinators instead (``stand_ins``, when the caller loaded
    them once for many objectives), who name one.

    The owner is told even when they recorded the measurement themselves: the notice says what
    the status now asks of them. Returns True when a notice was queued."""
    status, latest = status_as_of(objective, now.date())
    if status not in OWNER_TURNS:
        return False
    happened = (f"What happened: {objective.title} is {status}: {latest_text(objective, latest)}, "
                f"target {target_text(objective)}"
                + (f", due {objective.due_on:%d %b %Y}." if status == MISSED else "."))
    episode = _episode(objective, status, latest)
    link = f"/management/objectives/{objective.id}"
    if not has_active_owner(objective):
        gone = (f"{objective.owner.name} can no longer log in" if objective.owner is not None
                else "It has no owner")
        body = "\n".join([happened, f"Why you: {gone}, so nobody acts on it.",
                          "What is expected of you: Name an owner who can log in; they are told "
                          "what the objective now asks of them."])
        made = [notify(person, kind="objective_unowned", now=now, link=link,
                       dedupe_key=f"objective:{objective.id}:unowned:{status}:{episode}:{person.id}",
                       title=f"Objective {status} with no owner: {objective.title}", body=body)
                for person in (coordinators() if stand_ins is None else stand_ins)]
        return any(notice is not None for notice in made)
    owner = objective.owner
    lines = [happened, f"What is expected of you: {OWNER_TURNS[status][1]}"]
    if status == AT_RISK:
        lines.append(f"By: {objective.due_on:%d %b %Y} (the objective's due date)")
    kind = "objective_at_risk" if status == AT_RISK else "objective_missed"
    return notify(owner, kind=kind, now=now, link=link,
                  dedupe_key=f"objective:{objective.id}:{kind}:{episode}:{owner.id}",
                  title=f"Objective {status}: {objective.title}", body="\n".join(lines)) is not None


def _announce_after_recording(objective: QualityObjective, now: dt.datetime) -> None:
    # New rows are appended to the loaded collection unsorted: reload it in date order, which
    # ``status_as_of`` relies on for "latest".
    db.session.expire(objective, ["measurements"])
    announce_status(objective, now=now)


def send_objective_notices(*, now: dt.datetime) -> int:
    """Tell owners (or, for an objective without an active owner, the coordinators) about
    objectives at risk or missed that nobody recorded a measurement for since (the due date
    passing makes an objective missed without one); idempotent."""
    objectives = db.session.scalars(_not_yet_reviewed()
                                    .options(selectinload(QualityObjective.measurements),
                                             joinedload(QualityObjective.owner))
                                    .order_by(QualityObjective.id))
    objectives = list(objectives)
    stand_ins = coordinators() if not all(map(has_active_owner, objectives)) else []
    return sum(announce_status(objective, now=now, stand_ins=stand_ins) for objective in objectives)


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
    owner = active_owner(data.get("owner_id"), thing="objective")
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
    handed_over = values["owner"] is not objective.owner
    saved = save_with_trail(objective, values, actor=actor, now=now, label=f"objective {objective.title}")
    if handed_over:
        announce_status(objective, now=now)  # a new owner learns at once what it asks of them
    return saved


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
    _announce_after_recording(objective, now)
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
    _announce_after_recording(objective, now)
    return len(good)
