"""Every ``/api/`` response the test suite receives is checked against the served OpenAPI document.

``tests/conftest.py`` fetches ``/api/openapi.json`` once per session and makes
:class:`ValidatingClient` the test client class of every app it builds, so no API response in
the suite escapes the check: a status the document does not list for the operation, a body that
does not match its schema or a missing required header fails the test that made the request.

Validation is ``openapi-core``'s response validator. Two cases have no operation to validate
against and are checked here against the document's own components: a URL the document does
not list must answer 404 with ``components/responses/NotFound``, and a method a listed URL does
not offer must answer 405 with ``components/responses/MethodNotAllowed`` (``Allow`` naming at
least the documented methods).
"""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.validation.response.exceptions import InvalidData
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

PROBLEM_MEDIA_TYPE = "application/problem+json"
_DOC_URI = "urn:test:openapi"


class _SentRequest(WerkzeugOpenAPIRequest):
    """The request as openapi-core needs it to find the operation; its body was already read by
    the app (the response check never needs it, and re-reading a consumed stream fails)."""

    @property
    def body(self) -> bytes | None:
        return None


class ContractViolation(AssertionError):
    """An API response the served OpenAPI document does not allow."""


class ApiContract:
    """The served OpenAPI document, ready to validate responses."""

    def __init__(self, document: dict):
        self.document = document
        # openapi-core only parses media types it knows as JSON; problem+json is JSON too.
        self.openapi = OpenAPI.from_dict(
            document, config=Config(extra_media_type_deserializers={PROBLEM_MEDIA_TYPE: json_loads}))
        registry = Registry().with_resource(_DOC_URI, Resource.from_contents(document, DRAFT4))
        self._validators = {
            name: OAS30Validator({"$ref": f"{_DOC_URI}#/components/responses/{name}/content/"
                                          f"{PROBLEM_MEDIA_TYPE.replace('/', '~1')}/schema"},
                                 registry=registry)
            for name in ("NotFound", "MethodNotAllowed")
        }
        self.checked = 0

    def check(self, request, response) -> None:
        """Raise :class:`ContractViolation` unless ``response`` to ``request`` is documented."""
        where = f"{request.method} {request.path} -> {response.status_code}"
        try:
            self.openapi.validate_response(_SentRequest(request), WerkzeugOpenAPIResponse(response))
            unlisted = None
        except PathNotFound:
            unlisted = "path"
        except OperationNotFound:
            unlisted = "method"
        except InvalidData as exc:
            causes = "; ".join(str(e.message) for e in getattr(exc.__cause__, "schema_errors", ()))
            raise ContractViolation(f"{where}: {exc} {causes}: {response.get_data(as_text=True)[:500]}") from exc
        except Exception as exc:  # noqa: BLE001 - every other validator error is a violation too
            raise ContractViolation(f"{where}: {exc!r}: {response.get_data(as_text=True)[:500]}") from exc
        if unlisted == "path":
            self._check_component(where, response, 404, "NotFound")
        elif unlisted == "method":
            self._check_component(where, response, 405, "MethodNotAllowed")
            documented = {m.upper() for m in self._path_item(request.path)}
            allowed = {m.strip().upper() for m in response.headers.get("Allow", "").split(",") if m.strip()}
            if not allowed or not documented <= allowed:
                raise ContractViolation(f"{where}: Allow {sorted(allowed)} lacks {sorted(documented - allowed)}")
        self.checked += 1

    def watch(self, app) -> list[str]:
        """Check every ``/api/`` response ``app`` sends, for servers the test client does not
        drive (a live server a browser talks to). Returns the list violations are added to."""
        from flask import request

        violations: list[str] = []

        @app.after_request
        def _check_api_response(response):
            if request.path.startswith("/api/"):
                try:
                    self.check(request._get_current_object(), response)
                except ContractViolation as exc:
                    violations.append(str(exc))
            return response

        return violations

    def _check_component(self, where: str, response, status: int, name: str) -> None:
        if response.status_code != status:
            raise ContractViolation(f"{where}: undocumented operation answered other than {status}")
        if response.mimetype != PROBLEM_MEDIA_TYPE:
            raise ContractViolation(f"{where}: {response.mimetype}, not {PROBLEM_MEDIA_TYPE}")
        errors = [e.message for e in self._validators[name].iter_errors(json.loads(response.get_data()))]
        if errors:
            raise ContractViolation(f"{where}: {errors}")

    def _path_item(self, path: str) -> set[str]:
        """The documented methods of the path template that matches ``path``."""
        for template, item in self.document["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path):
                return {m for m in item if m in ("get", "put", "post", "patch", "delete")}
        return set()


class ValidatingClient(FlaskClient):
    """A test client that checks every ``/api/`` response against the served OpenAPI document."""

    #: Set by tests/conftest.py on the class it installs; ``None`` turns the check off.
    contract: ApiContract | None = None

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if self.contract is not None:
            # With follow_redirects the history holds the earlier hops; each is a response too.
            for hop in [*getattr(response, "history", ()), response]:
                request = hop.request
                if request.path.startswith("/api/"):
                    self.contract.check(request, hop)
        return response
