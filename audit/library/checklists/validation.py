"""The rules of one checklist question and of the conditions between questions.

Pure: plain values in, cleaned values and (field, message) problems out, so the builder's forms
and the file import report the same problems in the same words.
"""

from __future__ import annotations

import re

from audit.models import AnswerType, ChecklistQuestion, Clause, Verdict

QUESTION_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
QUESTION_FIELDS = (
    "key", "text", "guidance", "answer_type", "choices", "min_value", "max_value",
    "evidence_required", "photo_required", "weight", "condition_key", "condition_value",
)
YES_NO = ("yes", "no")


def clean_text(value) -> str:
    """``value`` as stripped text ("" for None)."""
    return "" if value is None else str(value).strip()


def _number(value, what: str, problems: list) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        problems.append((what, f"{what.replace('_', ' ')} must be a number"))
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        problems.append((what, f"{what.replace('_', ' ')} “{value}” is not a number"))
        return None


def _flag(value, what: str, problems: list) -> bool:
    if value in (None, "", False, 0):
        return False
    if value is True or str(value).strip().lower() in ("true", "yes", "1", "x"):
        return True
    if str(value).strip().lower() in ("false", "no", "0"):
        return False
    problems.append((what, f"{what.replace('_', ' ')} must be true or false, not “{value}”"))
    return False


def allowed_answers(question_like: dict | ChecklistQuestion) -> tuple[str, ...] | None:
    """Answer values a condition may test for this question, or None when any text is fine."""
    get = question_like.get if isinstance(question_like, dict) else (
        lambda k: getattr(question_like, k))
    kind = get("answer_type")
    if kind == AnswerType.YES_NO:
        return YES_NO
    if kind == AnswerType.VERDICT:
        return tuple(v.value for v in Verdict)
    if kind == AnswerType.CHOICE:
        return tuple(get("choices") or ())
    return None


def clean_question(raw: dict, *, clauses: list[Clause]) -> tuple[dict, list[tuple[str, str]]]:
    """Normalise one question's values; returns (values, [(field, message)]).

    Conditions are checked against the other questions by ``check_conditions``.
    """
    problems: list[tuple[str, str]] = []
    key = clean_text(raw.get("key")).lower()
    if not QUESTION_KEY.match(key):
        problems.append(("key", f"key “{key}” must be 1-60 lower-case letters, digits, . _ -"))
    text = clean_text(raw.get("text"))
    if not text:
        problems.append(("text", "the question text is missing"))
    kind_raw = raw.get("answer_type") or AnswerType.VERDICT.value
    try:
        kind = kind_raw if isinstance(kind_raw, AnswerType) else AnswerType(clean_text(kind_raw).lower())
    except ValueError:
        kind = AnswerType.VERDICT
        problems.append(("answer_type", f"answer type “{kind_raw}” is not one of "
                         + ", ".join(a.value for a in AnswerType)))
    choices_raw = raw.get("choices")
    if isinstance(choices_raw, str):
        choices_raw = [c for c in choices_raw.replace("\n", "|").split("|")]
    choices = [clean_text(c) for c in (choices_raw or []) if clean_text(c)]
    if kind == AnswerType.CHOICE:
        if len(choices) < 2:
            problems.append(("choices", "a choice question needs at least two choices"))
        elif len(set(choices)) != len(choices):
            problems.append(("choices", "choices must be different from each other"))
    elif choices:
        problems.append(("choices", "only choice questions have choices"))
    min_value = _number(raw.get("min_value"), "min_value", problems)
    max_value = _number(raw.get("max_value"), "max_value", problems)
    if kind != AnswerType.NUMBER and (min_value is not None or max_value is not None):
        problems.append(("min_value", "only number questions have limits"))
    if min_value is not None and max_value is not None and min_value > max_value:
        problems.append(("max_value", "the upper limit is below the lower limit"))
    weight = _number(raw.get("weight"), "weight", problems)
    if weight is not None and not 0 <= weight <= 100:
        problems.append(("weight", "weight must be between 0 and 100"))
    condition_key = clean_text(raw.get("condition_key")).lower() or None
    condition_value = clean_text(raw.get("condition_value")) or None
    if bool(condition_key) != bool(condition_value):
        problems.append(("condition_value",
                         "a condition needs both the question key and the answer value"))
    if condition_key and condition_key == key:
        problems.append(("condition_key", "a question cannot depend on itself"))
    values = {
        "key": key, "text": text, "guidance": clean_text(raw.get("guidance")) or None,
        "answer_type": kind, "choices": choices or None,
        "min_value": min_value, "max_value": max_value,
        "evidence_required": _flag(raw.get("evidence_required"), "evidence_required", problems),
        "photo_required": _flag(raw.get("photo_required"), "photo_required", problems),
        "weight": weight, "condition_key": condition_key, "condition_value": condition_value,
        "clauses": clauses,
    }
    if len(text) > 2000:
        problems.append(("text", "keep the question under 2000 characters"))
    return values, problems


def check_conditions(questions: list[dict]) -> list[tuple[int, str, str]]:
    """Problems (index, field, message) of conditions: the referenced question must exist,
    come earlier, and the tested value must be an answer it can have."""
    problems = []
    index_of = {q["key"]: i for i, q in enumerate(questions)}
    for i, q in enumerate(questions):
        key = q.get("condition_key")
        if not key:
            continue
        target = index_of.get(key)
        if target is None:
            problems.append((i, "condition_key", f"condition refers to unknown question “{key}”"))
            continue
        if target >= i:
            problems.append((i, "condition_key",
                             f"condition refers to “{key}”, which must come earlier"))
        allowed = allowed_answers(questions[target])
        if allowed is not None and q["condition_value"] not in allowed:
            problems.append((i, "condition_value", f"“{q['condition_value']}” is not a possible "
                             f"answer of “{key}” ({', '.join(allowed)})"))
    return problems
