"""Twenty visitors book the same slot at the same moment: exactly one gets it."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from crm.booking import services
from crm.booking.errors import SlotTaken
from crm.booking.models import Booking
from crm.leads.models import Lead
from extensions import db

VISITORS = 20


def test_twenty_concurrent_bookings_of_one_slot_give_one_booking(app, db_session, free_slot):
    slot = free_slot(0).start
    db_session.commit()
    db_session.remove()  # each thread gets its own session (its own app context)
    barrier = threading.Barrier(VISITORS)
    results: list[str] = []
    lock = threading.Lock()

    def visitor(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                services.book_call(
                    db.session,
                    name=f"Visitor {n}",
                    email=f"visitor{n}@example.com",
                    slot_start=slot,
                    timezone="America/Chicago",
                )
                outcome = "booked"
            except SlotTaken:
                outcome = "taken"
            except Exception as exc:  # noqa: BLE001 - reported in the assertion below
                outcome = f"error: {type(exc).__name__}: {exc}"
            finally:
                db.session.remove()
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(VISITORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(results) == ["booked"] + ["taken"] * (VISITORS - 1), results
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 1
    # The losers left nothing behind: one lead, the winner's.
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 1
    assert db_session.scalar(select(Booking.slot_start)) == slot
