"""The outbox's port: what `tasks/` needs to know of the features, told by the features.

`tasks/` imports no feature. Each feature registers, in its own `init_app`, what the outbox must
ask it, the way it adds its periodic tasks with `add_periodic_task`:

- `register_condition`: a send-time check named in a row's `condition` ("booking_active:12").
- `register_step`: an email of the coach's Sequences page (which audience, when it goes, delays).
- `register_preview`: sample and real values for a template's preview and test email.
- `register_attachment`: a file the worker builds at send time for an email queued with
  `render_later` (the booking's .ics invite), from the ids the row stores.
- `register_people`: who emails are about (crm.leads): their marketing consent, their timeline,
  a paused automation, what an unsubscribe withdraws, and the contacts a preview can use.

Everything is kept per Flask app in `app.extensions["outbox"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy.orm import Session

Condition = Callable[[Session, int], bool]
BatchCondition = Callable[[Session, set[int]], set[int]]
# (session, template, contact) -> values for the preview context; contact is "lead:12",
# "user:7" or None (sample data only).
PreviewFill = Callable[[Session, str, "Contact"], Mapping[str, Any]]
# (session, **args stored on the row) -> (filename, data, content type), or None to leave it out.
AttachmentBuilder = Callable[..., "tuple[str, bytes, str] | None"]


@dataclass(frozen=True)
class Step:
    """One email of the coach's Sequences page."""

    template: str
    label: str
    when: str
    # Default delay in hours per step of this template; None: the timing is fixed by its rule.
    delays: tuple[int, ...] | None = None
    delay_help: str = ""
    category: str = "transactional"


@dataclass(frozen=True)
class SequenceDef:
    key: str
    name: str
    audience: str
    steps: tuple[Step, ...]


# The audiences of the Sequences page, in the order it shows them; features add their steps.
AUDIENCES: tuple[tuple[str, str, str], ...] = (
    ("lead", "Free call", "Prospects who book a call"),
    ("client", "Client", "Runners in the programme"),
    ("coach", "You", "Emails to you, the coach"),
    ("account", "Account", "Anyone with a login"),
)


@dataclass(frozen=True)
class Contact:
    """Whom a preview is filled from: a lead and/or a runner's account, or neither (samples)."""

    lead: Any = None
    user: Any = None


@dataclass(frozen=True)
class EmailEvent:
    """Something that happened to an email about a lead, for her timeline."""

    lead_id: int
    kind: str
    summary: str
    outbox_id: int
    template: str


class People(Protocol):
    """Who emails are about. crm.leads provides it; without it, marketing never goes."""

    def marketing_consent(
        self, session: Session, wanted: list[tuple[str, int | None]]
    ) -> list[bool]:
        """Consent per (address, lead id or None), in order."""

    def paused(self, session: Session, lead_ids: set[int]) -> set[int]:
        """The leads among `lead_ids` whose automatic emails the coach paused."""

    def record(self, session: Session, events: list[EmailEvent]) -> None:
        """Put these email events on the leads' timelines (no commit)."""

    def suppressed(self, session: Session, address: str, reason: str) -> None:
        """An address was suppressed: withdraw its consent, say so on its timeline (no commit)."""

    def contact(self, session: Session, value: str | None) -> Contact:
        """The lead and/or account a preview value ("lead:12", "user:7") names."""

    def contacts(self, session: Session, limit: int) -> list[tuple[str, str]]:
        """(value, label) of recent contacts, for the preview's picker."""


class NoPeople:
    """Before crm.leads registers: nothing is known of anyone, so marketing never goes."""

    def marketing_consent(self, session, wanted):
        return [False] * len(wanted)

    def paused(self, session, lead_ids):
        return set()

    def record(self, session, events):
        return None

    def suppressed(self, session, address, reason):
        return None

    def contact(self, session, value):
        return Contact()

    def contacts(self, session, limit):
        return []


@dataclass
class OutboxRegistry:
    conditions: dict[str, Condition] = field(default_factory=dict)
    batch_conditions: dict[str, BatchCondition] = field(default_factory=dict)
    steps: dict[str, list[tuple[int, Step]]] = field(default_factory=dict)
    previews: list[PreviewFill] = field(default_factory=list)
    people: People = field(default_factory=NoPeople)
    attachments: dict[str, AttachmentBuilder] = field(default_factory=dict)

    def sequences(self) -> tuple[SequenceDef, ...]:
        out = []
        for key, name, audience in AUDIENCES:
            entries = sorted(self.steps.get(key, ()), key=lambda entry: entry[0])
            if entries:
                out.append(SequenceDef(key, name, audience, tuple(s for _, s in entries)))
        return tuple(out)

    def step(self, template: str) -> Step | None:
        return next(
            (s for entries in self.steps.values() for _, s in entries if s.template == template),
            None,
        )


def registry(app: Flask | None = None) -> OutboxRegistry:
    """This app's registry (created on first use, so registration order does not matter)."""
    return (app or current_app).extensions.setdefault("outbox", OutboxRegistry())


def register_condition(
    app: Flask, name: str, check: Condition, *, batch: BatchCondition | None = None
) -> None:
    """`check(session, id)` decides at send time whether a row with condition "name:id" goes;
    `batch(session, ids)`, when given, answers for many rows of one fan-out at once."""
    reg = registry(app)
    reg.conditions[name] = check
    if batch is not None:
        reg.batch_conditions[name] = batch


def register_step(app: Flask, audience: str, position: int, step: Step) -> None:
    """Show `step` on the Sequences page under `audience` (see AUDIENCES), at `position`."""
    if audience not in {key for key, _, _ in AUDIENCES}:
        raise ValueError(f"unknown audience {audience!r}")
    registry(app).steps.setdefault(audience, []).append((position, step))


def register_preview(app: Flask, fill: PreviewFill) -> None:
    registry(app).previews.append(fill)


def register_attachment(app: Flask, name: str, build: AttachmentBuilder) -> None:
    """`build(session, **args)` makes the attachment named `name` of an email rendered at send
    time: `{"builder": name, "args": {...}}` in the queued item's `attach` list."""
    registry(app).attachments[name] = build


def attachment_builder(name: str) -> AttachmentBuilder:
    build = registry().attachments.get(name)
    if build is None:
        raise LookupError(f"no attachment builder {name!r} is registered")
    return build


def register_people(app: Flask, people: People) -> None:
    registry(app).people = people


def people() -> People:
    return registry().people


def condition_holds(session: Session, condition: str) -> bool:
    """True when the condition still holds; an unknown condition fails closed (nothing sent)."""
    name, _, arg = condition.partition(":")
    check = registry().conditions.get(name)
    if check is None or not arg.isdigit():
        return False
    return check(session, int(arg))


def conditions_hold(session: Session, conditions: Iterable[str]) -> dict[str, bool]:
    """`condition_holds` for many conditions: {condition: holds}. Those registered with a batch
    check cost a few queries together rather than a few each."""
    batch = registry().batch_conditions
    out: dict[str, bool] = {}
    grouped: dict[str, set[int]] = {}
    for condition in set(conditions):
        name, _, arg = condition.partition(":")
        if name in batch and arg.isdigit():
            grouped.setdefault(name, set()).add(int(arg))
        else:
            out[condition] = condition_holds(session, condition)
    for name, ids in grouped.items():
        holding = batch[name](session, ids)
        out.update({f"{name}:{i}": i in holding for i in ids})
    return out
