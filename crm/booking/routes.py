from flask import Blueprint

bp = Blueprint("booking", __name__)


@bp.get("/book")
def book():
    return "Booking is coming soon."
