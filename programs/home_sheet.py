"""The printable home-exercise sheet: what a physio hands a patient. One PDF per client with her
coming strength sessions, each exercise with its demonstration (the coach's photo or video
poster, else Hero's drawing), dose, cue and how to do it. Made with fpdf2 (pure Python)."""

from __future__ import annotations

import io
from datetime import date

from fpdf import FPDF
from sqlalchemy.orm import Session as DbSession

from crm import storage
from crm.accounts.models import User
from crm.storage import StorageUnavailable
from programs.demos import BUCKET, demos_for
from programs.drawings import exercise_svg
from programs.engine import Plan, StrengthItem
from programs.engine.model import STRENGTH
from programs.library import current_library

# The PDF's core fonts speak Latin-1: typographic punctuation becomes its plain form.
_PLAIN = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...",
                        "→": "->", "•": "-"})  # fmt: skip


def _text(value: str) -> str:
    return value.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _dose(item: StrengthItem) -> str:
    what = f"{item.reps} reps" if item.reps is not None else f"{item.seconds} s hold"
    side = " each side" if item.per_side else ""
    return f"{item.sets} x {what}{side}, rest {item.rest_seconds} s"


def coming_sessions(plan: Plan, on_date: date, count: int = 2) -> list:
    """Her next ``count`` strength sessions from ``on_date`` (the plan's last ones if none)."""
    sessions = [s for s in plan.sessions if s.kind == STRENGTH]
    coming = [s for s in sessions if s.date >= on_date]
    return (coming or sessions[-count:])[:count]


def _picture(demo, ex) -> tuple[io.BytesIO, bool] | None:
    """(image bytes, is_svg) for the exercise: her photo or video poster, else the drawing."""
    key = demo and (demo.start or demo.poster or demo.end)
    if key:
        try:
            data = storage.get(BUCKET, key)
        except StorageUnavailable:
            data = None
        if data:
            return io.BytesIO(data), False
    if ex is None:
        return None
    return io.BytesIO(exercise_svg(ex).encode()), True


def home_exercise_sheet(
    session: DbSession, client: User, plan: Plan, on_date: date, coach_name: str = ""
) -> bytes:
    """The PDF bytes of the client's home-exercise sheet."""
    library = current_library(session)
    sessions = coming_sessions(plan, on_date)
    ids = [i.exercise_id for s in sessions for i in s.items]
    demos = demos_for(session, ids)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(_text(f"Home exercises - {client.display_name}"))
    pdf.set_author(_text(coach_name or "0 to 5K Hero"))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    title = _text(f"Home exercises for {client.display_name}")
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(
        0, 5,
        _text(f"0 to 5K Hero{' - from ' + coach_name if coach_name else ''} - "
              f"{on_date.strftime('%A %d %B %Y')}. Move slowly and with control. Stop any "
              "exercise that sharpens pain and tell your coach."),
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    for s in sessions:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 8, _text(f"{s.title} ({s.date.strftime('%a %d %b')})"), new_x="LMARGIN",
                 new_y="NEXT")  # fmt: skip
        for n, item in enumerate(s.items, 1):
            ex = library.by_id.get(item.exercise_id)
            if pdf.get_y() > 235:
                pdf.add_page()
            top = pdf.get_y() + 2
            picture = _picture(demos.get(item.exercise_id), ex)
            if picture is not None:
                data, _is_svg = picture
                pdf.image(data, x=pdf.l_margin, y=top, w=42)
            pdf.set_xy(pdf.l_margin + 46, top)
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(0, 6, _text(f"{n}. {item.name}"), new_x="LMARGIN", new_y="NEXT")
            pdf.set_x(pdf.l_margin + 46)
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, _text(_dose(item)), new_x="LMARGIN", new_y="NEXT")
            if ex is not None:
                pdf.set_x(pdf.l_margin + 46)
                pdf.multi_cell(0, 5, _text(ex.instructions), new_x="LMARGIN", new_y="NEXT")
            pdf.set_x(pdf.l_margin + 46)
            pdf.set_font("Helvetica", "I", 10)
            pdf.multi_cell(0, 5, _text(f"Cue: {item.cue}"), new_x="LMARGIN", new_y="NEXT")
            pdf.set_y(max(pdf.get_y(), top + 38))
    return bytes(pdf.output())
