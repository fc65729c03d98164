"""Pages and the workflow agree: what a page offers is exactly what allowed_actions grants, and
every refused action answers 403/409 with the workflow's reason, changing nothing.

Findings in every state of the finding, SCAR and action machines are walked by every kind of
person who meets them: the audit's lead, an auditor of another audit, a technical expert on the
team, the coordinator, the finding's owner, another auditee, top management (viewer), the
supplier's contact and another supplier's contact.
"""

from __future__ import annotations

import html
import re

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from audit.extensions import db
from audit.findings import services as fs
from audit.models import (
    ExtensionStatus,
    Finding,
    TrailEntry,
)

FORM_ACTION = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"', re.I)


def _page_of(finding: Finding, user) -> str:
    return f"/scar/{finding.id}" if user.supplier_id is not None else f"/findings/{finding.id}"


def _offered(app, page_html: str) -> set[tuple[str, int | None]]:
    """(action, action id) of every POST form on the page that belongs to the findings workflow."""
    adapter = app.url_map.bind("localhost")
    offered = set()
    for url in FORM_ACTION.findall(page_html):
        try:
            endpoint, args = adapter.match(html.unescape(url), method="POST")
        except (NotFound, MethodNotAllowed, RequestRedirect):
            continue
        blueprint, _, name = endpoint.partition(".")
        if blueprint in ("findings", "scar") and "finding_id" in args:
            offered.add((name, args.get("action_id")))
    return offered


def _granted(finding: Finding, user) -> set[tuple[str, int | None]]:
    workflow = fs.SCAR if user.supplier_id is not None else fs.FINDING
    granted = {(name, None) for name in workflow.allowed(finding, user)}
    granted |= {(name, a.id) for a in finding.actions for name in fs.ACTION.allowed(a, user)}
    if user.supplier_id is not None and fs.FINDING.decide(finding, user, "request_extension"):
        granted.add(("request_extension", None))  # the SCAR page asks for more time too
    return granted


def test_every_page_offers_exactly_what_the_workflow_grants(app, cast, login):
    """For every person and every finding state, the page's workflow forms are the granted actions."""
    people, findings = cast
    checked = 0
    for who, user in people.items():
        client = login(user)
        for state, finding in findings.items():
            response = client.get(_page_of(finding, user))
            if response.status_code in (403, 404):  # the person may not see this finding at all
                assert not _granted(finding, user), (who, state)
                continue
            assert response.status_code == 200, (who, state, response.status_code)
            assert _offered(app, response.text) == _granted(finding, user), (who, state)
            checked += 1
    assert checked >= 90  # the walk really covered people × states


def _url(finding: Finding, user, action: str, action_id: int | None) -> str:
    base = _page_of(finding, user)
    if action_id is not None:
        return f"{base}/actions/{action_id}/{action.removesuffix('_action')}"
    path = {"add_action": "actions", "request_extension": "extensions", "decide_extension": "extensions/decide",
            "add_cost": "costs", "root_cause": "root-cause"}.get(action, action)
    return f"{base}/{path}"


def _expected_refusal(app, user, finding, url: str, decision) -> tuple[int, str | None]:
    """What a refused POST must answer: the route's capability check and the supplier's scope
    come first (403 / 404 without detail); past them, the workflow's status and reason."""
    endpoint, _ = app.url_map.bind("localhost").match(url, method="POST")
    needed = getattr(app.view_functions[endpoint], "required_permissions", frozenset())
    if not all(user.can(p) for p in needed):
        return 403, None
    if endpoint.startswith("scar.") and (finding.supplier_id != user.supplier_id or not finding.is_scar):
        return 404, None
    if not fs.can_read(finding, user):  # what a person may not read does not exist for them
        return 404, None
    return decision.status, decision.reason


def test_every_refused_action_answers_with_the_workflows_reason(app, cast, login):
    """A refused action posted anyway answers 403 (who) or 409 (when) with the workflow's reason,
    and stores nothing."""
    people, findings = cast
    refusals = with_reason = 0
    for who, user in people.items():
        client = login(user)
        workflow = fs.SCAR if user.supplier_id is not None else fs.FINDING
        for state, finding in findings.items():
            decisions = [(d, None) for d in workflow.allowed_actions(finding, user) if not d.allowed]
            decisions += [(d, a.id) for a in finding.actions
                          for d in fs.ACTION.allowed_actions(a, user) if not d.allowed
                          # the SCAR page has routes only for the supplier's own step
                          and (user.supplier_id is None or d.action == "complete_action")]
            for decision, action_id in decisions:
                url = _url(finding, user, decision.action, action_id)
                status, reason = _expected_refusal(app, user, finding, url, decision)
                trail_before = db.session.query(TrailEntry).count()
                before = (finding.status, finding.scar_stage)
                response = client.post(url, data={})
                label = (who, state, decision.action)
                assert response.status_code == status, (*label, response.status_code)
                if reason is not None:
                    assert reason in html.unescape(response.text), label
                    with_reason += 1
                db.session.expire_all()
                assert db.session.query(TrailEntry).count() == trail_before, label
                assert (finding.status, finding.scar_stage) == before, label
                refusals += 1
    assert refusals >= 300 and with_reason >= 100


def test_refusals_carry_reasons_when_the_capability_is_held(app, cast, login):
    """Someone holding the route's capability but refused by the object rules reads why."""
    people, findings = cast
    client = login(people["stranger_auditor"])
    assert client.post(f"/findings/{findings['draft'].id}/issue", data={}).status_code == 404  # drafts: audit side
    response = client.post(f"/findings/{findings['issued_unowned'].id}/assign", data={})
    assert response.status_code == 403
    assert "Only the audit&#39;s lead or auditors, or a coordinator, do this." in response.text
    client = login(people["lead"])
    response = client.post(f"/findings/{findings['closed'].id}/issue", data={})
    assert response.status_code == 409 and "the finding is closed" in response.text
    response = client.post(f"/findings/{findings['major_pending'].id}/close", data={})
    assert response.status_code == 409 and "A major nonconformity cannot close" in response.text


def test_object_rules_of_the_findings_workflow(app, cast):
    """Who may act is decided on the object: the audit's team, never an auditor elsewhere or an
    expert on the team; no self-verification; supplier contacts only for their own company."""
    people, findings = cast
    draft_major = findings["draft"]
    assert fs.FINDING.decide(draft_major, people["lead"], "issue").allowed
    assert fs.FINDING.decide(draft_major, people["coordinator"], "issue").allowed
    for who in ("stranger_auditor", "expert", "owner", "viewer"):
        assert fs.FINDING.decide(draft_major, people[who], "issue").status == 403, who
    assert not fs.can_record(draft_major.audit, people["stranger_auditor"])
    assert not fs.can_record(draft_major.audit, people["expert"])
    assert fs.can_record(draft_major.audit, people["lead"])
    pending = findings["minor_pending_verification"]
    assert fs.FINDING.decide(pending, people["lead"], "verify").allowed
    assert fs.FINDING.decide(pending, people["owner"], "verify").status == 403
    scar = findings["scar_issued"]
    assert fs.SCAR.decide(scar, people["supplier"], "acknowledge").allowed
    assert fs.SCAR.decide(scar, people["rival_supplier"], "acknowledge").status == 403
    waiting = findings["extension_pending"]
    assert [e.status for e in waiting.extensions] == [ExtensionStatus.PENDING]
    assert fs.FINDING.decide(waiting, people["coordinator"], "decide_extension").allowed
    assert fs.FINDING.decide(waiting, people["lead"], "decide_extension").status == 403
