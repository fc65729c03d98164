"""Features register explicitly: nothing at import, everything in create_app, in a visible order."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from audit import FEATURES, create_app
from audit.core.registry import AUDIT_PAGE_SLOTS, RegistrationError, Registry, registry
from audit.extensions import db
from audit.models import Role

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "audit"

PROBE = """
import importlib, inspect, pkgutil, sys
import audit
from flask import Flask
from audit.core import registry

for info in pkgutil.walk_packages(audit.__path__, "audit."):
    importlib.import_module(info.name)

# Nothing registered anything while being imported: a fresh registry is empty ...
app = Flask("probe")
fresh = registry.init_app(app)
assert fresh == registry.Registry(), fresh
# ... and no module keeps a module-level collection of functions (an import-time registry).
for name, module in list(sys.modules.items()):
    if not name.startswith("audit"):
        continue
    for attr, value in vars(module).items():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, set)) else ()
        assert not any(inspect.isfunction(item) for item in items), f"{name}.{attr} collects functions"
print("ok")
"""


def test_importing_every_module_registers_nothing():
    """Importing every module of the package fills no registry; only create_app does."""
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_create_app_fills_the_registry_once_per_app(app):
    """Each application gets its own registry; building a second one doubles nothing."""
    first = registry(app)
    second = registry(create_app("testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}))
    assert first is not second
    assert (first.navigation, first.home_panels, first.audit_sections, first.notification_kinds) == (
        second.navigation, second.home_panels, second.audit_sections, second.notification_kinds)
    assert [j.id for j in first.jobs] == [j.id for j in second.jobs]
    assert [n.label for n in first.navigation] == [
        "Home", "Organisation", "People", "Trail", "Programme", "Audits", "Findings", "My SCARs", "Waiting for me",
        "Reports", "Management", "Calendar", "Library", "Outbox", "Scheduler"]
    assert set(first.audit_sections) == set(AUDIT_PAGE_SLOTS)
    assert len({j.id for j in first.jobs}) == len(first.jobs) >= 5
    assert all(n.endpoint in app.view_functions for n in first.navigation)


def test_registry_refuses_doubles_and_unknown_slots():
    """Registering the same thing twice, or into a slot the audit page lacks, is an error."""
    reg = Registry()
    reg.add_navigation("home.index", "Home")
    with pytest.raises(RegistrationError):
        reg.add_navigation("home.index", "Home again")
    with pytest.raises(RegistrationError):
        reg.add_audit_section("sidebar", lambda audit, user: None)
    reg.add_audit_section("plan", lambda audit, user: None)
    with pytest.raises(RegistrationError):
        reg.add_audit_section("plan", lambda audit, user: None)
    reg.add_notification_kinds({"x": "X"})
    with pytest.raises(RegistrationError):
        reg.add_notification_kinds({"x": "X again"})


def test_every_feature_has_init_app_and_views_are_imported_only_there():
    """Each feature package exposes init_app; no module imports another feature's views at all,
    and a feature's own views are imported only inside its init_app."""
    for name in FEATURES:
        assert (AUDIT / name.split(".")[1] / "__init__.py").read_text().count("def init_app(app: Flask)") == 1
    view_modules = {"views", "scar_views", "api"}
    offenders = []
    for path in AUDIT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        feature = path.relative_to(AUDIT).parts[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("audit."):
                parts = node.module.split(".")
                imported = {a.name for a in node.names}
                target_feature = parts[1]
                is_views = parts[-1] in view_modules or (len(parts) == 2 and imported & view_modules)
                if is_views and target_feature != feature:
                    offenders.append(f"{path.relative_to(ROOT)} imports {node.module}")
                if is_views and target_feature == feature and path.name == "__init__.py":
                    inside = any(isinstance(f, ast.FunctionDef) and f.name == "init_app" and node in ast.walk(f)
                                 for f in tree.body)
                    if not inside:
                        offenders.append(f"{path.relative_to(ROOT)} imports its views at import time")
    assert offenders == []


def test_audit_page_sections_follow_the_documented_order(make, login, app):
    """The audit page shows plan, checklist, findings, report, cycle, triggers and calendar in that
    order, whatever order the features were installed in."""
    reg = registry(app)
    assert list(reg.audit_sections) != list(AUDIT_PAGE_SLOTS)  # installed in another order ...
    assert [reg.audit_sections[s] for s in AUDIT_PAGE_SLOTS] == reg.ordered_audit_sections()  # ... shown in this
    coordinator = make.user(roles=(Role.COORDINATOR,))
    audit = make.audit(title="Ordered")
    db.session.commit()
    page = login(coordinator).get(f"/audits/{audit.id}").get_data(as_text=True)
    titles = ["Plan and agenda", "Findings: this audit, and open or recently closed for its units", "Report",
              "Calendar"]
    positions = [page.index(f"<h2>{t}</h2>") for t in titles]
    assert positions == sorted(positions)


#: A module longer than this must say why in its docstring ("Longer than 450 lines: ...").
MAX_MODULE_LINES = 450


def test_modules_are_small_enough_to_read_in_one_sitting():
    """No module under audit/ is over ~450 lines unless its docstring gives the reason."""
    too_long = []
    for path in sorted(AUDIT.rglob("*.py")):
        lines = path.read_text().count("\n")
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_MODULE_LINES and "Longer than 450 lines" not in docstring:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert too_long == []
