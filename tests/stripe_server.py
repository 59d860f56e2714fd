"""A real Stripe-compatible peer for tests: the `localstripe` package, in memory, on a free
loopback port, extended with the endpoints it lacks and Hero uses.

localstripe has no Price, no Checkout Session and no Promotion Code; the classes below add them,
shaped after Stripe's API reference (ids, field names, list envelopes, 400/404 errors), on
localstripe's own store and aiohttp app. `POST /_config/checkout/sessions/{id}/complete` stands
in for the runner paying on the hosted page: it creates the Customer, a card PaymentMethod and
the PaymentIntent (mode=payment) or the Subscription with its first paid Invoice
(mode=subscription), as Stripe does, and marks the session complete and paid. Given an `iban`
(mode=payment only), she pays by SEPA Direct Debit instead, a delayed-notification method: the
session is complete but unpaid and its PaymentIntent processing until the test calls
`POST /_config/checkout/sessions/{id}/settle`, the bank's answer some days later: paid, or failed
for Stripe's failing test IBAN (`IBAN_FAILS`). Like Stripe's Checkout, it never sends the
checkout.session.* events (localstripe does not either): tests sign and deliver them themselves.
localstripe ignores idempotency keys, so nothing in Hero may rely on them for exactly-once.
Refund and invoice lists gain Stripe's `created` filter (and invoices `status`), and a Dispute
resource stands in for a bank's chargeback, opened and decided through `/_config/` endpoints.

Registered as a pytest plugin in tests/conftest.py. Fixtures: `localstripe` (session-scoped
server) and `stripe_live` (per test: points the app at it with a test key, empties its store).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.request
import warnings
from dataclasses import dataclass

import pytest

WEBHOOK_SECRET = "whsec_hero_tests"
API_KEY = "sk_test_hero_localstripe"
# Stripe's SEPA Direct Debit test IBANs (localstripe declines the second one too).
IBAN_SUCCEEDS = "DE89370400440532013000"
IBAN_FAILS = "DE62370400440532013001"


def _build_app():
    # localstripe registers plain-function handlers, which aiohttp deprecates: its business.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _extend_localstripe()


def _extend_localstripe():
    from localstripe import resources as r
    from localstripe import server
    from localstripe.errors import UserError

    # In memory only: localstripe pickles its store to /tmp/localstripe.pickle on every write.
    r.store.dump_to_disk = lambda: None
    r.store.try_load_from_disk = lambda: None
    r.store.clear()

    def _int(value, name):
        value = r.try_convert_to_int(value)
        if type(value) is not int or value < 0:
            raise UserError(400, f"Invalid integer: {name}")
        return value

    class Price(r.StripeObject):
        object = "price"
        _id_prefix = "price_"

        def __init__(
            self,
            currency=None,
            unit_amount=None,
            product=None,
            product_data=None,
            recurring=None,
            metadata=None,
            active=True,
            nickname=None,
            lookup_key=None,
            **kwargs,
        ):
            if kwargs:
                raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
            unit_amount = _int(unit_amount, "unit_amount")
            if not isinstance(currency, str) or len(currency) != 3:
                raise UserError(400, "Missing required param: currency.")
            if (product is None) == (product_data is None):
                raise UserError(400, "Pass exactly one of product or product_data.")
            if recurring is not None and (
                not isinstance(recurring, dict)
                or recurring.get("interval") not in ("day", "week", "month", "year")
            ):
                raise UserError(400, "Invalid recurring[interval].")
            if product is not None:
                r.Product._api_retrieve(product)  # 404 if missing
            else:
                product = r.Product(name=product_data.get("name"), type="service").id
            super().__init__()
            self.currency = currency.lower()
            self.unit_amount = unit_amount
            self.product = product
            self.active = r.try_convert_to_bool(active)
            self.nickname = nickname
            self.lookup_key = lookup_key
            self.metadata = metadata or {}
            self.type = "recurring" if recurring else "one_time"
            self.recurring = (
                {
                    "interval": recurring["interval"],
                    "interval_count": int(recurring.get("interval_count", 1)),
                    "usage_type": "licensed",
                }
                if recurring
                else None
            )
            if recurring:
                # localstripe's subscriptions bill Plans: give this price a twin with its id.
                r.Plan(
                    id=self.id,
                    amount=unit_amount,
                    currency=self.currency,
                    interval=recurring["interval"],
                    product=product,
                )

    class PromotionCode(r.StripeObject):
        object = "promotion_code"
        _id_prefix = "promo_"

        def __init__(self, coupon=None, code=None, active=True, metadata=None, **kwargs):
            if kwargs:
                raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
            if not isinstance(coupon, str):
                raise UserError(400, "Missing required param: coupon.")
            coupon_obj = r.Coupon._api_retrieve(coupon)
            super().__init__()
            self.code = code or r.random_id(8).upper()
            self.coupon = coupon_obj._export()
            self.active = r.try_convert_to_bool(active)
            self.metadata = metadata or {}
            self.times_redeemed = 0

        @classmethod
        def _api_list_all(cls, url, code=None, active=None, limit=None, starting_after=None):
            li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
            if code is not None:
                li._list = [p for p in li._list if p.code == code]
            if active is not None:
                li._list = [p for p in li._list if p.active == r.try_convert_to_bool(active)]
            return li

    class LineItem(r.StripeObject):
        object = "item"
        _id_prefix = "li_"

        def __init__(self, price, quantity):
            super().__init__()
            self.price = price._export()
            self.quantity = quantity
            self.currency = price.currency
            self.amount_subtotal = price.unit_amount * quantity
            self.amount_total = self.amount_subtotal
            self.description = r.Product._api_retrieve(price.product).name

    known = {
        "mode",
        "line_items",
        "client_reference_id",
        "customer_email",
        "customer",
        "allow_promotion_codes",
        "success_url",
        "cancel_url",
        "metadata",
        "payment_intent_data",
        "subscription_data",
        "customer_creation",
        "expires_at",
        "payment_method_types",
        "discounts",
        "locale",
    }

    class CheckoutSession(r.StripeObject):
        object = "checkout.session"
        _id_prefix = "cs_test_"

        def __init__(self, **params):
            unknown = set(params) - known
            if unknown:
                raise UserError(400, "Received unknown parameter: " + ", ".join(sorted(unknown)))
            mode = params.get("mode")
            if mode not in ("payment", "subscription", "setup"):
                raise UserError(400, "Missing required param: mode.")
            if mode != "setup" and not params.get("success_url"):
                raise UserError(400, "Missing required param: success_url.")
            raw_items = params.get("line_items") or []
            if not isinstance(raw_items, list) or not raw_items:
                raise UserError(400, "Missing required param: line_items.")
            prices = []
            for item in raw_items:
                if item.get("price"):
                    price = Price._api_retrieve(item["price"])
                elif item.get("price_data"):
                    price = Price(**item["price_data"])
                else:
                    raise UserError(400, "line_items[0] needs price or price_data.")
                if (mode == "subscription") != (price.type == "recurring"):
                    raise UserError(
                        400,
                        f"{mode} mode needs "
                        f"{'recurring' if mode == 'subscription' else 'one-time'} prices.",
                    )
                prices.append((price, _int(item.get("quantity", 1), "quantity")))
            super().__init__()
            self.mode = mode
            self.status = "open"
            self.payment_status = "unpaid"
            self.client_reference_id = params.get("client_reference_id")
            self.customer_email = params.get("customer_email")
            self.customer = params.get("customer")
            self.customer_details = None
            self.allow_promotion_codes = r.try_convert_to_bool(
                params.get("allow_promotion_codes", False)
            )
            self.success_url = params.get("success_url")
            self.cancel_url = params.get("cancel_url")
            self.metadata = params.get("metadata") or {}
            self._payment_intent_data = params.get("payment_intent_data") or {}
            self._subscription_data = params.get("subscription_data") or {}
            self.currency = prices[0][0].currency
            self.line_items = r.List(f"/v1/checkout/sessions/{self.id}/line_items")
            self.line_items._list = [LineItem(p, q) for p, q in prices]
            self.amount_subtotal = sum(li.amount_subtotal for li in self.line_items._list)
            self.amount_total = self.amount_subtotal
            self.total_details = {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
            self.payment_intent = None
            self.subscription = None
            self.invoice = None
            self.expires_at = int(params.get("expires_at") or self.created + 24 * 3600)
            self.url = f"https://checkout.stripe.com/c/pay/{self.id}"
            if self.success_url:
                self.success_url = self.success_url.replace("{CHECKOUT_SESSION_ID}", self.id)

        @classmethod
        def _api_list_all(
            cls,
            url,
            limit=None,
            starting_after=None,
            created=None,
            subscription=None,
            payment_intent=None,
            customer=None,
            status=None,
            **kwargs,
        ):
            if kwargs:
                raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
            li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
            items = sorted(li._list, key=lambda s: s.created, reverse=True)
            if isinstance(created, dict):
                for op, value in created.items():
                    value = int(value)
                    test = {
                        "gt": lambda c, v=value: c > v,
                        "gte": lambda c, v=value: c >= v,
                        "lt": lambda c, v=value: c < v,
                        "lte": lambda c, v=value: c <= v,
                    }[op]
                    items = [s for s in items if test(s.created)]
            for attr, value in (
                ("subscription", subscription),
                ("payment_intent", payment_intent),
                ("customer", customer),
                ("status", status),
            ):
                if value is not None:
                    items = [s for s in items if getattr(s, attr) == value]
            li._list = items
            return li

        def _complete(self, promotion_code=None, card="4242424242424242", iban=None):
            if self.status != "open":
                raise UserError(400, "This Checkout Session is no longer open.")
            if iban is not None and self.mode != "payment":
                raise UserError(400, "Bank debits are simulated for mode=payment only.")
            if promotion_code:
                if not self.allow_promotion_codes:
                    raise UserError(400, "Promotion codes are not allowed on this session.")
                promos = [
                    p
                    for k, p in r.store.items()
                    if k.startswith("promotion_code:") and p.code == promotion_code and p.active
                ]
                if not promos:
                    raise UserError(400, "This code is invalid.")
                coupon = promos[0].coupon
                discount = (
                    coupon["amount_off"]
                    if coupon.get("amount_off") is not None
                    else int(round(self.amount_subtotal * coupon["percent_off"] / 100))
                )
                discount = min(discount, self.amount_subtotal)
                self.total_details["amount_discount"] = discount
                self.amount_total = self.amount_subtotal - discount
                promos[0].times_redeemed += 1
            cus = r.Customer(email=self.customer_email)
            if iban is None:
                pm = r.PaymentMethod(
                    type="card",
                    card={"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
                )
            else:
                pm = r.PaymentMethod(type="sepa_debit", sepa_debit={"iban": iban})
            r.PaymentMethod._api_attach(pm.id, customer=cus.id)
            cus.invoice_settings["default_payment_method"] = pm.id
            self.customer = cus.id
            self.customer_details = {"email": self.customer_email, "name": None}
            if self.mode == "payment":
                pi = r.PaymentIntent._api_create(
                    confirm=iban is None,
                    amount=self.amount_total,
                    currency=self.currency,
                    customer=cus.id,
                    payment_method=pm.id,
                    metadata=self._payment_intent_data.get("metadata") or {},
                )
                if iban is not None:
                    # A pending charge makes the PaymentIntent "processing" until _settle.
                    charge = r.Charge(
                        amount=pi.amount, currency=pi.currency, customer=cus.id, source=pm.id
                    )
                    charge.payment_intent = pi.id
                    pi.latest_charge = charge
                self.payment_intent = pi.id
            else:
                price = self.line_items._list[0].price
                sub = r.Subscription(
                    customer=cus.id,
                    items=[{"plan": price["id"]}],
                    metadata=self._subscription_data.get("metadata") or {},
                )
                self.subscription = sub.id
                self.invoice = sub.latest_invoice
            self.status = "complete"
            self.payment_status = "paid" if iban is None else "unpaid"
            return self

        def _settle(self):
            pi = r.PaymentIntent._api_retrieve(self.payment_intent) if self.payment_intent else None
            if pi is None or pi.status != "processing":
                raise UserError(400, "No bank payment is processing for this Checkout Session.")
            if pi.latest_charge._authorized:
                pi.latest_charge.status = "succeeded"
                self.payment_status = "paid"
            else:
                # The session stays complete and unpaid, as Stripe leaves it.
                pi.latest_charge._set_auth_failure()
            return self

    def _created_filter(items, created):
        """Stripe's `created` range filter (gt, gte, lt, lte) on a list of objects."""
        if created is None:
            return items
        if not isinstance(created, dict):
            created = {"gte": created, "lte": created}
        ops = {
            "gt": lambda c, v: c > v,
            "gte": lambda c, v: c >= v,
            "lt": lambda c, v: c < v,
            "lte": lambda c, v: c <= v,
        }
        for op, value in created.items():
            if op not in ops:
                raise UserError(400, f"Invalid created[{op}]")
            value = _int(value, f"created[{op}]")
            items = [o for o in items if ops[op](o.created, value)]
        return items

    # Reconciliation reads refunds and invoices by creation date (and invoices by status), which
    # localstripe's lists don't filter on: wrap them.
    refund_list = r.Refund._api_list_all.__func__

    def refunds_list(cls, url, created=None, **kwargs):
        li = refund_list(cls, url, **kwargs)
        li._list = _created_filter(li._list, created)
        return li

    r.Refund._api_list_all = classmethod(refunds_list)
    invoice_list = r.Invoice._api_list_all.__func__

    def invoices_list(cls, url, created=None, status=None, **kwargs):
        li = invoice_list(cls, url, **kwargs)
        li._list = _created_filter(li._list, created)
        if status is not None:
            li._list = [i for i in li._list if i.status == status]
        return li

    r.Invoice._api_list_all = classmethod(invoices_list)

    class Dispute(r.StripeObject):
        """A chargeback on a charge: opened with `POST /_config/charges/{id}/dispute`, decided
        with `POST /_config/disputes/{id}/close` (status won or lost), as a bank would."""

        object = "dispute"
        _id_prefix = "dp_"

        def __init__(self, charge=None, reason="fraudulent", amount=None, **kwargs):
            if kwargs:
                raise UserError(400, "Received unknown parameter: " + ", ".join(kwargs))
            charge_obj = r.Charge._api_retrieve(charge)
            super().__init__()
            self.charge = charge_obj.id
            self.payment_intent = getattr(charge_obj, "payment_intent", None)
            self.amount = _int(amount, "amount") if amount is not None else charge_obj.amount
            self.currency = charge_obj.currency
            self.reason = reason
            self.status = "needs_response"
            self.is_charge_refundable = False
            self.metadata = {}

        @classmethod
        def _api_list_all(cls, url, created=None, charge=None, payment_intent=None, **kwargs):
            li = super()._api_list_all(url, **kwargs)
            items = sorted(li._list, key=lambda d: d.created, reverse=True)
            items = _created_filter(items, created)
            if charge is not None:
                items = [d for d in items if d.charge == charge]
            if payment_intent is not None:
                items = [d for d in items if d.payment_intent == payment_intent]
            li._list = items
            return li

    app = server.app
    for cls, path in (
        (Price, "prices"),
        (PromotionCode, "promotion_codes"),
        (CheckoutSession, "checkout/sessions"),
        (Dispute, "disputes"),
    ):
        url = "/v1/" + path
        app.router.add_post(url, server.api_create(cls, url))
        app.router.add_get(url + "/{id}", server.api_retrieve(cls, url))
        app.router.add_get(url, server.api_list_all(cls, url))
    app.router.add_post("/v1/prices/{id}", server.api_update(Price, "/v1/prices"))

    async def line_items(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        return server.json_response(session.line_items._export())

    async def complete(request):
        data = await server.get_post_data(request) or {}
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        return server.json_response(session._complete(**data)._export())

    async def settle(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        return server.json_response(session._settle()._export())

    async def open_dispute(request):
        data = await server.get_post_data(request) or {}
        dispute = Dispute(charge=request.match_info["id"], **data)
        return server.json_response(dispute._export())

    async def close_dispute(request):
        data = await server.get_post_data(request) or {}
        dispute = Dispute._api_retrieve(request.match_info["id"])
        if data.get("status") not in ("won", "lost"):
            raise UserError(400, "status must be won or lost")
        dispute.status = data["status"]
        return server.json_response(dispute._export())

    async def fail_refund(request):
        refund = r.Refund._api_retrieve(request.match_info["id"])
        refund.status = "failed"
        refund.failure_reason = "expired_or_canceled_card"
        return server.json_response(refund._export())

    app.router.add_post("/_config/refunds/{id}/fail", fail_refund)
    app.router.add_post("/_config/charges/{id}/dispute", open_dispute)
    app.router.add_post("/_config/disputes/{id}/close", close_dispute)
    app.router.add_get("/v1/checkout/sessions/{id}/line_items", line_items)
    app.router.add_post("/_config/checkout/sessions/{id}/complete", complete)
    app.router.add_post("/_config/checkout/sessions/{id}/settle", settle)
    return app


@dataclass
class LocalStripe:
    url: str
    api_key: str = API_KEY
    webhook_secret: str = WEBHOOK_SECRET

    def _request(self, method: str, path: str, data: dict | None = None) -> dict:
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else {}

    def complete_checkout(self, session_id: str, **params) -> dict:
        """The runner pays on the hosted Checkout page (by SEPA Direct Debit with `iban=`)."""
        return self._request("POST", f"/_config/checkout/sessions/{session_id}/complete", params)

    def settle_bank_payment(self, session_id: str) -> dict:
        """The bank answers a debit made at checkout: paid, or failed for IBAN_FAILS."""
        return self._request("POST", f"/_config/checkout/sessions/{session_id}/settle")

    def open_dispute(self, charge_id: str, **params) -> dict:
        """Her bank disputes a charge (reason="fraudulent" unless given)."""
        return self._request("POST", f"/_config/charges/{charge_id}/dispute", params)

    def close_dispute(self, dispute_id: str, status: str) -> dict:
        """The bank decides: won or lost."""
        return self._request("POST", f"/_config/disputes/{dispute_id}/close", {"status": status})

    def fail_refund(self, refund_id: str) -> dict:
        """The refund fails after the fact (her card was closed), as Stripe reports it."""
        return self._request("POST", f"/_config/refunds/{refund_id}/fail")

    def register_webhook(self, url: str, events: list[str] | None = None) -> None:
        data = {"url": url, "secret": self.webhook_secret}
        if events:
            data["events"] = events
        self._request("POST", "/_config/webhooks/hero", data)

    def flush(self) -> None:
        from localstripe import webhooks

        webhooks._webhooks.clear()
        self._request("DELETE", "/_config/data")


@pytest.fixture(scope="session")
def localstripe() -> LocalStripe:
    from aiohttp import web

    app = _build_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    # Start the server on its own thread's loop: the main thread may already run one (Playwright's
    # sync API does, once a browser test has started), and run_until_complete refuses to nest.
    thread = threading.Thread(target=loop.run_forever, name="localstripe", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(runner.setup(), loop).result(timeout=10)
    site = web.SockSite(runner, sock)
    asyncio.run_coroutine_threadsafe(site.start(), loop).result(timeout=10)
    server = LocalStripe(url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 10
    while True:
        try:
            server._request("GET", "/v1/balance")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield server
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def stripe_live(app_ctx, localstripe):
    """The app talks to localstripe through the real SDK for this test; the store starts empty."""
    localstripe.flush()
    saved = {
        k: app_ctx.config.get(k)
        for k in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET")
    }
    app_ctx.config.update(
        STRIPE_SECRET_KEY=localstripe.api_key,
        STRIPE_API_BASE=localstripe.url,
        STRIPE_WEBHOOK_SECRET=localstripe.webhook_secret,
    )
    yield localstripe
    app_ctx.config.update(saved)
