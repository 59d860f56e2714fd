"""CSV import of leads: map the headers, validate every row, then write the good rows at once.

Two steps so nothing is half-imported: `prepare_import` is pure (no database) and reports each bad
row with its row number, field and message; `apply_import` upserts the good rows in one
transaction (dedupe by email, case-insensitive, within the file and against the database) and
commits once at the end — a failure rolls back the whole batch.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from crm.leads.models import Stage
from crm.leads.services import LeadError, change_stage, record_event, upsert_lead

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000

# Header (lower-cased, letters and digits only) → lead field. "first"/"last" are joined into name.
HEADER_ALIASES: dict[str, str] = {
    "email": "email", "emailaddress": "email", "mail": "email",
    "name": "name", "fullname": "name", "contactname": "name",
    "firstname": "first_name", "first": "first_name", "givenname": "first_name",
    "lastname": "last_name", "last": "last_name", "surname": "last_name",
    "familyname": "last_name",
    "phone": "phone", "phonenumber": "phone", "mobile": "phone", "mobilephone": "phone",
    "cell": "phone", "tel": "phone", "telephone": "phone",
    "goalrace": "goal_race", "race": "goal_race",
    "goaldate": "goal_date", "racedate": "goal_date",
    "source": "source", "leadsource": "source", "utmsource": "source",
    "heardfrom": "heard_from", "howdidyouhearaboutus": "heard_from",
    "stage": "stage", "status": "stage",
}  # fmt: skip

FIELD_LIMITS = {"name": 120, "phone": 40, "goal_race": 120, "source": 120, "heard_from": 120}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")


class ImportFileError(LeadError):
    """The file as a whole cannot be imported (too big, not CSV, no email column)."""


@dataclass(frozen=True)
class RowError:
    row: int  # the line number a spreadsheet shows: the header is row 1
    field: str
    message: str


@dataclass
class ImportPlan:
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0
    duplicates_in_file: int = 0
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0
    duplicates_in_file: int = 0

    @property
    def skipped(self) -> int:
        return len({e.row for e in self.errors})


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.strip().lower().lstrip("\ufeff"))


def map_headers(headers: list[str]) -> dict[str, str]:
    """{original header: lead field} for the headers we recognise (the first wins)."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        target = HEADER_ALIASES.get(_header_key(header or ""))
        if target and target not in taken:
            mapping[header] = target
            taken.add(target)
    return mapping


def _parse_date(value: str) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError("Use a date like 2025-11-02.")


def _validate_row(number: int, raw: dict[str, str]) -> tuple[dict[str, Any], list[RowError]]:
    errors: list[RowError] = []
    values = {k: (v or "").strip() for k, v in raw.items()}
    row: dict[str, Any] = {}

    try:
        row["email"] = validate_email(
            values.get("email", ""), check_deliverability=False
        ).normalized
    except EmailNotValidError as exc:
        message = "Email is missing." if not values.get("email") else str(exc)
        errors.append(RowError(number, "email", message))

    name = values.get("name") or " ".join(
        part for part in (values.get("first_name", ""), values.get("last_name", "")) if part
    )
    if not name:
        errors.append(RowError(number, "name", "Name is missing."))
    row["name"] = name

    for key, limit in FIELD_LIMITS.items():
        value = name if key == "name" else values.get(key, "")
        if len(value) > limit:
            errors.append(RowError(number, key, f"Longer than {limit} characters."))
        elif key != "name" and value:
            row[key] = value

    if values.get("goal_date"):
        try:
            row["goal_date"] = _parse_date(values["goal_date"])
        except ValueError as exc:
            errors.append(RowError(number, "goal_date", str(exc)))
    if values.get("stage"):
        key = _header_key(values["stage"])
        stage = next((s for s in Stage if _header_key(s.value) == key), None)
        if stage is None:
            choices = ", ".join(s.value for s in Stage)
            errors.append(RowError(number, "stage", f"Unknown stage; use one of {choices}."))
        else:
            row["stage"] = stage
    return row, errors


def prepare_import(data: bytes | str) -> ImportPlan:
    """Read and validate a CSV file (no database). ImportFileError if the file is unusable."""
    if isinstance(data, bytes):
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportFileError(
                f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB."
            )
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            data = data.decode("cp1252", errors="replace")  # Excel on Windows
    elif len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    if "\x00" in data:
        raise ImportFileError("That is not a CSV file.")
    reader = csv.DictReader(io.StringIO(data, newline=""))
    try:
        headers = reader.fieldnames or []
    except csv.Error as exc:
        raise ImportFileError(f"That is not a readable CSV file ({exc}).") from exc
    mapping = map_headers(headers)
    if "email" not in mapping.values():
        raise ImportFileError(
            "The file needs an Email column (its first line must be the headers)."
        )
    if "name" not in mapping.values() and "first_name" not in mapping.values():
        raise ImportFileError("The file needs a Name column, or First name and Last name columns.")

    plan = ImportPlan(mapping=mapping)
    by_email: dict[str, int] = {}
    try:
        for index, record in enumerate(reader):
            number = index + 2
            if index >= MAX_IMPORT_ROWS:
                raise ImportFileError(f"Import at most {MAX_IMPORT_ROWS:,} rows at a time.")
            if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
                continue  # blank line
            plan.total_rows += 1
            raw = {mapping[h]: record.get(h) or "" for h in mapping}
            row, errors = _validate_row(number, raw)
            if errors:
                plan.errors.extend(errors)
                continue
            key = row["email"].lower()
            if key in by_email:
                # The same person twice in one file: merge into the first row, later values win.
                plan.duplicates_in_file += 1
                plan.rows[by_email[key]][1].update(row)
                continue
            by_email[key] = len(plan.rows)
            plan.rows.append((number, row))
    except csv.Error as exc:
        raise ImportFileError(
            f"The CSV file is malformed near row {reader.line_num}: {exc}"
        ) from exc
    return plan


def apply_import(
    session: Session,
    plan: ImportPlan,
    *,
    actor_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Create or update a lead per good row, in one transaction (commits once, at the end)."""
    report = ImportReport(
        errors=list(plan.errors),
        total_rows=plan.total_rows,
        duplicates_in_file=plan.duplicates_in_file,
    )
    try:
        for _number, row in plan.rows:
            fields = dict(row)
            stage = fields.pop("stage", None)
            email, name = fields.pop("email"), fields.pop("name")
            fields.setdefault("source", "csv import")
            lead, created = upsert_lead(session, email=email, name=name, **fields)
            if created:
                report.created += 1
            else:
                report.updated += 1
                record_event(session, lead, "imported", "Updated from a CSV import",
                             actor_id=actor_id)  # fmt: skip
            if stage is not None and stage != lead.stage:
                change_stage(session, lead, stage, lost_reason="imported", actor_id=actor_id,
                             force=True)  # fmt: skip
            if progress:
                progress(1)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report


def import_leads(
    session: Session, data: bytes | str, *, actor_id: int | None = None
) -> ImportReport:
    """Validate then import a CSV file; the report lists created, updated and rejected rows."""
    return apply_import(session, prepare_import(data), actor_id=actor_id)
