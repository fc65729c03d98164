"""``id_url`` builds the same URLs as ``url_for``, for a table's many ids at the cost of one."""

from __future__ import annotations

import pytest
from flask import url_for

from audit.core.templating import id_url


@pytest.mark.parametrize("endpoint, key, values", [
    ("audits.detail", "audit_id", {}),
    ("findings.detail", "finding_id", {}),
    ("organisation.site_detail", "obj_id", {}),
    ("programme.detail", "programme_id", {"page": 3}),
])
def test_id_url_matches_url_for(app, endpoint, key, values):
    with app.test_request_context("/", base_url="https://audits.example.org/prefix"):
        build = id_url(endpoint, key, **values)
        for object_id in (1, 7, 42, 918273, 2_147_483_647):
            assert build(object_id) == url_for(endpoint, **{key: object_id}, **values)


def test_id_url_refuses_what_is_not_an_id(app):
    with app.test_request_context("/"):
        build = id_url("audits.detail", "audit_id")
        with pytest.raises(ValueError):
            build("1/../../admin")


def test_id_url_falls_back_to_url_for_when_the_marker_is_ambiguous(app):
    """Where the marker id shows up more than once, each URL is built by url_for itself."""
    from audit.core import templating

    with app.test_request_context("/"):
        build = id_url("programme.detail", "programme_id", page=templating._ID_SENTINEL)
        for object_id in (5, 12):
            assert build(object_id) == url_for("programme.detail", programme_id=object_id,
                                               page=templating._ID_SENTINEL)
