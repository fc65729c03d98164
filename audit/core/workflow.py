"""State machines declared once per aggregate: which actions exist, in which states, for whom.

A ``Workflow`` is a table of ``Step``s. Each step names the states it starts from, who may take
it (a rule about the user *and* the object, such as team membership) and any further guard.
``decide`` answers one question with a reason; ``allowed_actions`` answers them all, for pages
to show exactly the forms and buttons the person may use; ``require`` is what services call
first, so the page and the service can never disagree: they read the same table.

Refusals come in two kinds, as HTTP does: *who* (403, ``NotAllowed``: this person may never do
this here) and *when* (409, ``Conflict``: not in this state, or a guard is not met yet).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask_login import current_user

from audit.core.errors import Conflict, NotAllowed, RefusedAction

#: ``rule(obj, user) -> bool``, or a string: the refusal's own reason (falsy: ``who_reason``)
Who = Callable[[object, object], bool | str]
#: ``guard(obj, user) -> reason why not now, or None``
Guard = Callable[[object, object], str | None]


@dataclass(frozen=True)
class Step:
    """One action of a workflow."""

    name: str
    label: str
    #: States the action starts from (empty: any state the workflow's ``open_states`` allows).
    states: frozenset
    who: Who
    #: Why ``who`` refused, shown on the page and in the 403.
    who_reason: str
    guard: Guard | None = None


@dataclass(frozen=True)
class Decision:
    """Whether ``user`` may take ``action`` on the object now, and if not, why."""

    action: str
    label: str
    allowed: bool
    reason: str = ""
    #: 403 for who-refusals, 409 for state or guard refusals (200 when allowed).
    status: int = 200

    def __bool__(self) -> bool:
        return self.allowed


class Workflow:
    """The transition table of one aggregate."""

    def __init__(self, name: str, *, state: Callable[[object], enum.Enum | None],
                 state_label: Callable[[object], str], steps: Iterable[Step]):
        self.name = name
        self._state = state
        self._state_label = state_label
        self.steps = {step.name: step for step in steps}

    def decide(self, obj, user, action: str) -> Decision:
        """Who first (so strangers learn nothing about the state), then state, then guard."""
        step = self.steps[action]
        who = step.who(obj, user) if user is not None and getattr(user, "is_authenticated", True) else False
        if who is not True:
            return Decision(action, step.label, False, who if isinstance(who, str) and who else step.who_reason, 403)
        if step.states and self._state(obj) not in step.states:
            return Decision(action, step.label, False,
                            f"Cannot {step.label.lower()}: the {self.name} is {self._state_label(obj)}.", 409)
        if step.guard is not None:
            reason = step.guard(obj, user)
            if reason:
                return Decision(action, step.label, False, reason, 409)
        return Decision(action, step.label, True)

    def allowed_actions(self, obj, user) -> list[Decision]:
        """Every action of the workflow for ``user`` on ``obj``, allowed or with its reason."""
        return [self.decide(obj, user, name) for name in self.steps]

    def allowed(self, obj, user) -> set[str]:
        """The names of the actions ``user`` may take on ``obj`` now."""
        return {d.action for d in self.allowed_actions(obj, user) if d.allowed}

    def require(self, obj, user, action: str) -> None:
        """Raise ``NotAllowed`` (403) or ``Conflict`` (409) with the reason unless allowed."""
        decision = self.decide(obj, user, action)
        if decision.allowed:
            return
        if decision.status == 403:
            raise NotAllowed(decision.reason)
        raise Conflict(decision.reason)


def refuse_unless_allowed(workflow: Workflow, obj, action: str, user=None) -> None:
    """For views: answer 403/409 with the workflow's reason before any form is read."""
    decision = workflow.decide(obj, user if user is not None else current_user, action)
    if not decision.allowed:
        raise RefusedAction(decision.status, decision.reason)
