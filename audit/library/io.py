"""Reading and writing library files (YAML and CSV) with line numbers for every entry.

Parsing here is pure: text in, plain dicts out (each mapping remembers the line it came from in
``.line``), so the services can report *where* a file is wrong. Writing is deterministic, so an
export of unchanged data is byte-identical and import → export → import round-trips.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml

from audit.core.errors import DomainError
from audit.core.exports import guard_row, unguard_cell
from audit.core.text import CONTROL_RE


class ImportFailed(DomainError):
    """A file could not be imported; ``errors`` lists (line or None, message), nothing was stored."""

    def __init__(self, errors: list[tuple[int | None, str]], field: str | None = "file"):
        self.errors = sorted(errors, key=lambda e: (e[0] or 0, e[1]))
        lines = [f"line {line}: {msg}" if line else msg for line, msg in self.errors]
        shown = lines[:20]
        if len(lines) > 20:
            shown.append(f"… and {len(lines) - 20} more problems")
        super().__init__("Nothing was imported. " + "; ".join(shown), field=field)


class LineDict(dict):
    """A mapping that knows the line (1-based) of the file it was read from."""

    line: int | None = None
    #: line of each key's value, for messages about one field
    lines: dict | None = None


def field_line(mapping, key: str) -> int | None:
    """The line of ``mapping[key]`` when known, else the mapping's own line."""
    lines = getattr(mapping, "lines", None) or {}
    return lines.get(key) or line_of(mapping)


def line_of(obj: Any) -> int | None:
    return getattr(obj, "line", None)


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader whose mappings carry their starting line and that refuses aliases.

    An alias repeats a node by reference: nine nested aliases in 374 bytes expanded to a
    34.7 MB standard code. Library files never need them, so any alias is an error.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted: write each value out",
                self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        if isinstance(key, str):
            mapping.lines[key] = key_node.start_mark.line + 1
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def refuse_control_characters(text: str) -> None:
    """Raise ImportFailed naming the line of the first control character (other than TAB/CR/LF):
    imported text ends up in titles, calendars and e-mails, where such characters break parsers."""
    match = CONTROL_RE.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise ImportFailed([(line, f"control character U+{ord(match.group()):04X} is not allowed")])


def parse_yaml(text: str) -> list[LineDict]:
    """All non-empty documents of a YAML text; syntax errors become a line-numbered ImportFailed."""
    refuse_control_characters(text)
    try:
        documents = [d for d in yaml.load_all(text, Loader=_LineLoader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ImportFailed([(line, f"not valid YAML ({exc.problem or exc.context})")]) from None
    except yaml.YAMLError as exc:
        raise ImportFailed([(None, f"not valid YAML ({exc})")]) from None
    for doc in documents:
        if not isinstance(doc, dict):
            raise ImportFailed([(None, "each YAML document must be a mapping (key: value)")])
    return documents


def dump_yaml(documents: list[dict]) -> str:
    """Deterministic, human-friendly YAML (keys in the given order, unicode kept)."""
    return yaml.safe_dump_all(
        [_plain(d) for d in documents], sort_keys=False, allow_unicode=True, width=100
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_csv(text: str, required: tuple[str, ...], allowed: tuple[str, ...]) -> list[LineDict]:
    """Rows of a CSV text with a header; each row's ``.line`` is its line in the file."""
    text = text.lstrip("\ufeff")  # Excel writes a byte-order mark
    refuse_control_characters(text)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportFailed([(None, "the file is empty")]) from None
    except csv.Error as exc:
        raise ImportFailed([(1, f"not valid CSV ({exc})")]) from None
    problems: list[tuple[int | None, str]] = []
    missing = [c for c in required if c not in header]
    if missing:
        problems.append((1, f"missing column(s): {', '.join(missing)}"))
    unknown = [c for c in header if c not in allowed]
    if unknown:
        problems.append((1, f"unknown column(s): {', '.join(unknown)}"))
    if problems:
        raise ImportFailed(problems)
    rows: list[LineDict] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                problems.append((line, f"{len(values)} values but only {len(header)} columns"))
                continue
            row = LineDict(zip(header, (unguard_cell(v.strip()) for v in values), strict=False))
            row.line = line
            rows.append(row)
    except csv.Error as exc:
        raise ImportFailed([(reader.line_num, f"not valid CSV ({exc})")]) from None
    if problems:
        raise ImportFailed(problems)
    return rows


def write_csv(header: list[str], rows: list[list[Any]]) -> str:
    """A CSV text with ``header``; None becomes an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(guard_row("" if v is None else v for v in row))
    return out.getvalue()
