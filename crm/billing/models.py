"""Billing: what the coach sells, what was offered, what was paid, and the Stripe event ledger.

Money is integer cents plus an ISO currency. Stripe object ids carry UNIQUE constraints: they are
what makes fulfilment, payments and refunds exactly-once whatever order webhooks arrive in.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.billing.money import format_money
from crm.time import UTCDateTime, utcnow
from extensions import db


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class PriceKind(enum.StrEnum):
    ONE_TIME = "one_time"
    INSTALMENTS = "instalments"


class OfferStatus(enum.StrEnum):
    SENT = "sent"
    OPENED = "opened"
    PAID = "paid"
    EXPIRED = "expired"


class AttemptStatus(enum.StrEnum):
    OPEN = "open"
    # Checkout completed with a bank debit (SEPA, US bank account) the bank has not cleared yet.
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"  # that bank debit failed: the offer can be paid again
    EXPIRED = "expired"


class EnrolmentStatus(enum.StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    ENDED = "ended"


class PlanStatus(enum.StrEnum):
    """The instalment plan behind an enrolment ("none" for pay in full)."""

    NONE = "none"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentStatus(enum.StrEnum):
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"


class BillingSettings(db.Model):
    """The coach's billing rules: one row (created on first read)."""

    __tablename__ = "billing_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    grace_days: Mapped[int] = mapped_column(default=7)
    offer_valid_days: Mapped[int] = mapped_column(default=14)
    # What the last daily reconciliation repaired, shown on the Payments page.
    last_reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reconcile_report: Mapped[list] = mapped_column(JSON, default=list)


class Programme(db.Model):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    weeks: Mapped[int] = mapped_column(default=12)
    active: Mapped[bool] = mapped_column(default=True)
    stripe_product_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    prices: Mapped[list[Price]] = relationship(
        back_populates="programme", order_by="Price.id", cascade="all, delete-orphan"
    )

    @property
    def active_prices(self) -> list[Price]:
        return [p for p in self.prices if p.active]


class Price(db.Model):
    """Pay in full (one_time) or N monthly instalments of `amount_cents` each."""

    __tablename__ = "prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[PriceKind] = mapped_column(_enum(PriceKind))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    instalments: Mapped[int] = mapped_column(default=1)
    interval: Mapped[str] = mapped_column(String(10), default="month")
    active: Mapped[bool] = mapped_column(default=True)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    programme: Mapped[Programme] = relationship(back_populates="prices")

    @property
    def total_cents(self) -> int:
        return self.amount_cents * (self.instalments if self.kind == PriceKind.INSTALMENTS else 1)

    @property
    def label(self) -> str:
        if self.kind == PriceKind.INSTALMENTS:
            return f"{self.instalments} × {format_money(self.amount_cents, self.currency)} / month"
        return f"{format_money(self.amount_cents, self.currency)} in full"


class Offer(db.Model):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    # Part of the signed link: a fresh nonce per offer, so an old link never opens a new offer.
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[OfferStatus] = mapped_column(_enum(OfferStatus), default=OfferStatus.SENT)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    programme: Mapped[Programme] = relationship()
    lead = relationship("Lead")


class CheckoutAttempt(db.Model):
    """One Checkout Session we created. Its id is the session's client_reference_id."""

    __tablename__ = "checkout_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"))
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    mode: Mapped[str] = mapped_column(String(16))  # payment | subscription
    status: Mapped[AttemptStatus] = mapped_column(_enum(AttemptStatus), default=AttemptStatus.OPEN)
    url: Mapped[str] = mapped_column(Text, default="")
    # Offline test mode only: the locally recorded Checkout Session (Stripe's shape).
    offline_session: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    offer: Mapped[Offer] = relationship()
    price: Mapped[Price] = relationship()


class Enrolment(db.Model):
    __tablename__ = "enrolments"
    __table_args__ = (Index("ix_enrolments_status_grace", "status", "grace_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    price_id: Mapped[int] = mapped_column(ForeignKey("prices.id"))
    # One paid Checkout Session → one enrolment, enforced here.
    checkout_attempt_id: Mapped[int] = mapped_column(
        ForeignKey("checkout_attempts.id"), unique=True
    )
    stripe_checkout_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(
        _enum(EnrolmentStatus), default=EnrolmentStatus.ACTIVE
    )
    plan_status: Mapped[PlanStatus] = mapped_column(_enum(PlanStatus), default=PlanStatus.NONE)
    # Why access is paused: "grace_expired" lifts itself on payment; "coach" needs the coach.
    paused_reason: Mapped[str] = mapped_column(String(20), default="")
    access_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
    lead = relationship("Lead")
    programme: Mapped[Programme] = relationship()
    price: Mapped[Price] = relationship()
    payments: Mapped[list[Payment]] = relationship(
        back_populates="enrolment", order_by="Payment.id"
    )

    @property
    def has_access(self) -> bool:
        return self.status in (EnrolmentStatus.ACTIVE, EnrolmentStatus.PAST_DUE)


class Payment(db.Model):
    """One Stripe payment: a PaymentIntent (pay in full) or an Invoice (an instalment)."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_status_paid", "status", "paid_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolments.id", ondelete="CASCADE"), index=True
    )
    # pi_… for pay in full, in_… for an instalment: the exactly-once key.
    stripe_object_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus))
    refunded_cents: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(String(200), default="")
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrolment: Mapped[Enrolment] = relationship(back_populates="payments")
    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")

    @property
    def refundable_cents(self) -> int:
        if self.status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            return 0
        return self.amount_cents - self.refunded_cents


class Refund(db.Model):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    stripe_refund_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class Dispute(db.Model):
    """A chargeback on one of our payments, as Stripe last told us (its status changes)."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    reason: Mapped[str] = mapped_column(String(100), default="")
    # Stripe's words: needs_response, under_review, won, lost, warning_*…
    status: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status not in ("won", "lost", "warning_closed")


class StripeEvent(db.Model):
    """The webhook ledger: one row per Stripe event id, so a redelivery is never processed twice.

    An event about an object Hero doesn't know yet (a refund before its checkout) is kept with
    `waiting_for` set to that object's Stripe id, and applied when the object arrives; it is
    marked processed only once its effect is recorded."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    waiting_for: Mapped[str | None] = mapped_column(String(255), index=True)
