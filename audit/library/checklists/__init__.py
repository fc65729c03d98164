"""Checklist templates: versions, sections and clause-mapped questions, import and export.

Versioning rule: a **published** version never changes. Every editing service calls
``versions.ensure_draft`` first and refuses to touch anything else; to change a published
checklist, ``versions.start_draft`` copies it into a new draft (questions keep their keys, so
answers can be compared across versions), and publishing the draft retires the previous
published version. Audits point at the exact version they used (``Audit.checklist_version_id``),
so publishing never changes an audit that is already running or done.

Modules, by responsibility:

- ``validation``: the rules of one question and of conditions between questions (pure).
- ``versions``: reading versions, creating templates, drafts, publishing and retiring.
- ``builder``: editing a draft's sections and questions.
- ``files``: YAML/CSV import and export, and the shipped default checklists.
- ``coverage``: which clauses of a standard a version covers.

Other features pick the checklist to use with ``versions.published_version(template_name)``.
"""
