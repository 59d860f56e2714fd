"""API tokens: a coach trades her email and password for a bearer token, and revokes it."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from crm.accounts import services
from crm.accounts.access import hash_token
from crm.accounts.models import ApiToken, User
from extensions import api, csrf, db, limiter

bp = Blueprint(
    "auth_api",
    __name__,
    url_prefix="/api/v1/auth",
    description="Bearer tokens for the coach's API clients.",
)
csrf.exempt(bp)


class TokenRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))
    name = fields.String(
        load_default="API token",
        validate=validate.Length(max=100),
        metadata={"description": "A label to recognise the token by."},
    )


class TokenSchema(Schema):
    token = fields.String(metadata={"description": "Send as `Authorization: Bearer <token>`."})


@bp.route("/token", methods=["POST"])
@limiter.limit("10/minute;50/hour")
@bp.arguments(TokenRequestSchema)
@bp.response(201, TokenSchema)
@bp.alt_response(401, description="Wrong email or password")
@bp.alt_response(403, description="Not the coach")
@bp.alt_response(429, description="Too many attempts: wait for Retry-After seconds")
def issue_token(data: dict):
    """Issue a bearer token for the coach (only its hash is stored). It stops working after
    API_TOKEN_DAYS (30 by default), when the coach revokes it, or when her password changes."""
    user = services.authenticate(db.session, data["email"], data["password"])
    if user is None:
        abort(401, message="That email and password don't match an account.")
    try:
        token = services.issue_api_token(db.session, user, data["name"])
    except services.AccountError as exc:
        abort(403, message=str(exc))
    return {"token": token}


@bp.route("/token", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(401, description="No valid bearer token")
@bp.doc(security=[{"bearerAuth": []}])
def revoke_token():
    """Revoke the bearer token this request is signed with."""
    header = request.headers.get("Authorization", "")
    token_id = None
    if header.startswith("Bearer "):
        token_id = db.session.scalar(
            select(ApiToken.id).where(
                ApiToken.token_hash == hash_token(header[7:].strip()),
                ApiToken.revoked_at.is_(None),
            )
        )
    token = db.session.get(ApiToken, token_id) if token_id else None
    if token is None:
        abort(401, message="Send the bearer token to revoke.")
    services.revoke_api_token(db.session, db.session.get(User, token.user_id), token.id)


def register(app: Flask) -> None:
    components = api.spec.components
    if "bearerAuth" not in components.security_schemes:
        components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
        components.security_scheme(
            "sessionCookie", {"type": "apiKey", "in": "cookie", "name": "session"}
        )
    api.register_blueprint(bp)
