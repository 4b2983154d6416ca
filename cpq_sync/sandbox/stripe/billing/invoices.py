"""Invoice items (``/v1/invoiceitems``) and invoices (``/v1/invoices``) for one-time orders.

Invoice items are created ``pending`` (no invoice) unless ``invoice=`` names a draft invoice. An invoice
created for a ``customer`` takes the customer's pending items only with
``pending_invoice_items_behavior=include``: since API version 2022-08-01 the default is ``exclude`` (an empty
draft). ``subscription=`` takes that subscription's pending items. ``finalize`` moves a draft to ``open`` with
a number, a hosted URL and (``send_invoice``) a due date. Line amounts are rounded per line, half up;
discounts as in ``amounts``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cpq_sync.sandbox.stripe import ids
from cpq_sync.sandbox.stripe.billing import amounts
from cpq_sync.sandbox.stripe.billing.common import (
    apply_metadata,
    check_metadata,
    discounts_param,
    list_object,
    load_customer,
    load_price,
    only,
    redeem,
    to_bool,
    to_decimal,
    to_int,
)
from cpq_sync.sandbox.stripe.billing.inline_prices import inline_price
from cpq_sync.sandbox.stripe.billing.phases import check_collection
from cpq_sync.sandbox.stripe.errors import invalid_request
from cpq_sync.sandbox.stripe.listing import list_response, read_limit
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.search import search_response
from cpq_sync.sandbox.stripe.store import JSONObject, Store, register_index


def _pending(item: JSONObject) -> str:
    return "false" if item.get("invoice") else "true"


def _item_subscription(item: JSONObject) -> str | None:
    details = (item.get("parent") or {}).get("subscription_details") or {}
    value = details.get("subscription")
    return None if value is None else str(value)


def _invoice_subscription(invoice: JSONObject) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    value = details.get("subscription")
    return None if value is None else str(value)


register_index("invoiceitem", "customer")
register_index("invoiceitem", "invoice")
register_index("invoiceitem", "pending", _pending)
register_index("invoiceitem", "subscription", _item_subscription)
register_index("invoice", "customer")
register_index("invoice", "status")
register_index("invoice", "subscription", _invoice_subscription)


def _coupons(store: Store, entries: list[JSONObject]) -> list[JSONObject]:
    return [c for c in (store.get("coupon", str(e["coupon"])) for e in entries) if c is not None]


@route("POST", "/v1/invoiceitems")
def create_invoice_item(ctx: RequestContext) -> JSONObject:
    params = ctx.params
    only(
        params,
        (
            "customer",
            "pricing",
            "price_data",
            "quantity",
            "amount",
            "unit_amount_decimal",
            "currency",
            "description",
            "discounts",
            "discountable",
            "metadata",
            "period",
            "subscription",
            "invoice",
        ),
    )
    customer = load_customer(ctx, params.get("customer"))
    sources = [k for k in ("pricing", "price_data", "amount", "unit_amount_decimal") if k in params]
    if len(sources) != 1:
        raise invalid_request(
            "Specify exactly one of `pricing[price]`, `price_data`, `amount` or `unit_amount_decimal` "
            "(the last two with `currency`).",
            param=sources[1] if len(sources) > 1 else "pricing",
        )
    quantity = to_int(params.get("quantity", 1), "quantity")
    if quantity < 0:
        raise invalid_request("This value must be greater than or equal to 0.", param="quantity")
    price: JSONObject | None = None
    if "pricing" in params:
        pricing = params["pricing"]
        if not isinstance(pricing, dict) or "price" not in pricing:
            raise invalid_request("Missing required param: pricing[price].", param="pricing[price]")
        price = load_price(ctx, pricing["price"], "pricing[price]", recurring=False)
    elif "price_data" in params:
        price = inline_price(ctx, params["price_data"], "price_data")
    if price is not None:
        currency = str(price["currency"])
        unit = amounts.unit_amount_decimal(price)
        amount = amounts.line_amount(price, quantity)
    else:
        if "currency" not in params:
            raise invalid_request("Missing required param: currency.", param="currency")
        currency = str(params["currency"]).lower()
        if "amount" in params:
            if "quantity" in params:
                raise invalid_request("You cannot pass `quantity` with `amount`.", param="quantity")
            amount = to_int(params["amount"], "amount")
            unit = Decimal(amount)
        else:
            unit = to_decimal(params["unit_amount_decimal"], "unit_amount_decimal")
            amount = amounts.round_minor(unit * quantity)
    if "currency" in params and str(params["currency"]).lower() != currency:
        raise invalid_request(
            f"The currency {params['currency']} does not match the price's currency ({currency}).",
            param="currency",
        )
    subscription_id = None
    if params.get("subscription"):
        subscription = ctx.get_or_404("subscription", str(params["subscription"]), param="subscription")
        if subscription["customer"] != customer["id"]:
            raise invalid_request("The subscription belongs to another customer.", param="subscription")
        subscription_id = subscription["id"]
    invoice_id = None
    if params.get("invoice"):
        invoice = ctx.get_or_404("invoice", str(params["invoice"]), param="invoice")
        if invoice["status"] != "draft":
            raise invalid_request(
                f"Invoice {invoice['id']} is {invoice['status']}: items can only be added to draft invoices.",
                param="invoice",
            )
        invoice_id = invoice["id"]
    now = ctx.now_ts
    period = {"start": now, "end": now}
    if "period" in params:
        raw = params["period"]
        if not isinstance(raw, dict) or "start" not in raw or "end" not in raw:
            raise invalid_request("period needs start and end.", param="period")
        period = {"start": to_int(raw["start"], "period[start]"), "end": to_int(raw["end"], "period[end]")}
        if period["end"] < period["start"]:
            raise invalid_request("The period end must be on or after its start.", param="period[end]")
    discounts = discounts_param(ctx, params.get("discounts"), "discounts", currency)
    item = build_invoice_item(
        ctx.store,
        customer=customer["id"],
        currency=currency,
        amount=amount,
        unit=unit,
        quantity=quantity,
        price=price,
        now=now,
        period=period,
        subscription_id=subscription_id,
        invoice_id=invoice_id,
        description=params.get("description") or None,
        discounts=[d["coupon"] for d in discounts],
        discountable=to_bool(params.get("discountable", "true"), "discountable"),
        metadata=check_metadata(params.get("metadata"), "metadata"),
    )
    ctx.store.insert(item)
    redeem(ctx.store, discounts)
    if invoice_id is not None:
        invoice = ctx.get_or_404("invoice", invoice_id)
        _recompute(ctx.store, invoice)
        ctx.store.save(invoice)
    return _public_item(item)


def build_invoice_item(
    store: Store,
    *,
    customer: str,
    currency: str,
    amount: int,
    unit: Decimal,
    quantity: int,
    price: JSONObject | None,
    now: int,
    period: dict[str, int],
    subscription_id: str | None = None,
    invoice_id: str | None = None,
    description: str | None = None,
    discounts: list[str] | None = None,
    discountable: bool = True,
    metadata: dict[str, str] | None = None,
    proration: bool = False,
) -> JSONObject:
    """An invoice item in Stripe's shape (not stored)."""
    return {
        "id": ids.new_id("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "date": now,
        "description": description or (None if price is None else _describe(store, price)),
        "discountable": discountable,
        "discounts": list(discounts or []),
        "invoice": invoice_id,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "net_amount": amount,
        "parent": None
        if subscription_id is None
        else {"subscription_details": {"subscription": subscription_id}, "type": "subscription_details"},
        "period": period,
        "pricing": {
            "price_details": None if price is None else {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": format(unit, "f"),
        },
        "proration": proration,
        "proration_details": {"discount_amounts": []},
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "tax_rates": [],
        "test_clock": None,
        "created": now,
    }


def _public_item(item: JSONObject) -> JSONObject:
    return {k: v for k, v in item.items() if k != "created"}


def _describe(store: Store, price: JSONObject) -> str:
    product = store.get("product", str(price["product"]))
    return str((product or {}).get("name") or price["product"])


@route("GET", "/v1/invoiceitems/{invoiceitem}")
def retrieve_invoice_item(ctx: RequestContext) -> JSONObject:
    return _public_item(ctx.get_or_404("invoiceitem", ctx.path_params["invoiceitem"], kind="invoiceitem"))


@route("DELETE", "/v1/invoiceitems/{invoiceitem}")
def delete_invoice_item(ctx: RequestContext) -> JSONObject:
    item = ctx.get_or_404("invoiceitem", ctx.path_params["invoiceitem"], kind="invoiceitem")
    if item.get("invoice"):
        invoice = ctx.store.get("invoice", str(item["invoice"]))
        if invoice is not None and invoice["status"] != "draft":
            raise invalid_request(
                f"Invoice item {item['id']} is on a finalized invoice and can no longer be deleted.",
                param=None,
            )
    ctx.store.delete("invoiceitem", item["id"])
    if item.get("invoice"):
        invoice = ctx.store.get("invoice", str(item["invoice"]))
        if invoice is not None:
            _recompute(ctx.store, invoice)
            ctx.store.save(invoice)
    return {"id": item["id"], "object": "invoiceitem", "deleted": True}


@route("GET", "/v1/invoiceitems")
def list_invoice_items(ctx: RequestContext) -> JSONObject:
    filters: dict[str, str] = {}
    for key in ("customer", "invoice"):
        if ctx.params.get(key):
            filters[key] = str(ctx.params[key])
    if "pending" in ctx.params:
        filters["pending"] = "true" if to_bool(ctx.params["pending"], "pending") else "false"
    page = list_response(
        ctx,
        "invoiceitem",
        url="/v1/invoiceitems",
        filters=filters,
        supported_filters=("customer", "invoice", "pending"),
        kind="invoiceitem",
    )
    page["data"] = [_public_item(i) for i in page["data"]]
    return page


def _line(store: Store, invoice: JSONObject, item: JSONObject) -> JSONObject:
    return {
        "id": "il_" + str(item["id"])[3:],
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item.get("description"),
        "discount_amounts": [],
        "discountable": item.get("discountable", True),
        "discounts": list(item.get("discounts") or []),
        "invoice": invoice["id"],
        "livemode": False,
        "metadata": item.get("metadata") or {},
        "parent": {
            "invoice_item_details": {
                "invoice_item": item["id"],
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": _item_subscription(item),
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        },
        "period": item["period"],
        "pretax_credit_amounts": [],
        "pricing": item.get("pricing"),
        "quantity": item.get("quantity"),
        "quantity_decimal": item.get("quantity_decimal"),
        "subtotal": item["amount"],
        "taxes": [],
    }


def _recompute(store: Store, invoice: JSONObject) -> None:
    """Lines and totals from the invoice's items: line discounts first, then invoice-level coupons."""
    items = store.all("invoiceitem", _items_of(invoice["id"]))
    items.sort(key=lambda i: (int(i["created"]), str(i["id"])))
    lines = [_line(store, invoice, item) for item in items]
    currency = str(invoice["currency"])
    line_off: list[int] = []
    for item in items:
        coupons = _coupons(store, [{"coupon": c} for c in item.get("discounts") or []])
        off = amounts.apply_coupons(coupons, int(item["amount"]), currency) if item["amount"] > 0 else 0
        line_off.append(off)
    subtotal = sum(int(i["amount"]) for i in items)
    invoice_coupons = _coupons(store, [{"coupon": c} for c in invoice.get("_coupons") or []])
    remaining = [
        int(item["amount"]) - off if item.get("discountable", True) else 0
        for item, off in zip(items, line_off, strict=True)
    ]
    invoice_off = amounts.apply_coupons(invoice_coupons, max(0, sum(remaining)), currency)
    shares = amounts.allocate(invoice_off, remaining)
    for line, off, share in zip(lines, line_off, shares, strict=True):
        total_off = off + share
        line["discount_amounts"] = [{"amount": total_off, "discount": None}] if total_off else []
    discount_total = sum(line_off) + invoice_off
    total = subtotal - discount_total
    invoice["lines"] = list_object(f"/v1/invoices/{invoice['id']}/lines", lines)
    invoice["subtotal"] = subtotal
    invoice["subtotal_excluding_tax"] = subtotal
    invoice["total"] = total
    invoice["total_excluding_tax"] = total
    invoice["total_discount_amounts"] = [{"amount": discount_total, "discount": None}] if discount_total else []
    invoice["amount_due"] = max(0, total)
    invoice["amount_remaining"] = max(0, total) - int(invoice.get("amount_paid") or 0)
    if items:
        invoice["period_start"] = min(int(i["period"]["start"]) for i in items)
        invoice["period_end"] = max(int(i["period"]["end"]) for i in items)


def _items_of(invoice_id: str) -> Any:
    from cpq_sync.sandbox.stripe.store import Condition

    return Condition.attr("invoiceitem", "invoice", invoice_id)


def _pending_items(store: Store, customer: str, subscription: str | None) -> list[JSONObject]:
    from cpq_sync.sandbox.stripe.store import Condition

    parts = [
        Condition.attr("invoiceitem", "customer", customer),
        Condition.attr("invoiceitem", "pending", "true"),
    ]
    if subscription is not None:
        parts.append(Condition.attr("invoiceitem", "subscription", subscription))
    return store.all("invoiceitem", Condition.all_of(parts))


def public_invoice(invoice: JSONObject) -> JSONObject:
    return {k: v for k, v in invoice.items() if not k.startswith("_")}


@route("POST", "/v1/invoices")
def create_invoice(ctx: RequestContext) -> JSONObject:
    params = ctx.params
    only(
        params,
        (
            "customer",
            "subscription",
            "collection_method",
            "days_until_due",
            "due_date",
            "auto_advance",
            "description",
            "metadata",
            "discounts",
            "pending_invoice_items_behavior",
            "currency",
        ),
    )
    subscription = None
    if params.get("subscription"):
        subscription = ctx.get_or_404("subscription", str(params["subscription"]), param="subscription")
    customer_id = params.get("customer") or (subscription or {}).get("customer")
    customer = load_customer(ctx, customer_id)
    if subscription is not None and subscription["customer"] != customer["id"]:
        raise invalid_request("The subscription belongs to another customer.", param="subscription")
    behavior = params.get("pending_invoice_items_behavior", "exclude")
    if behavior not in ("include", "exclude"):
        raise invalid_request(
            "Invalid pending_invoice_items_behavior: must be one of include or exclude",
            param="pending_invoice_items_behavior",
        )
    pending: list[JSONObject] = []
    if subscription is not None or behavior == "include":
        pending = _pending_items(ctx.store, customer["id"], None if subscription is None else subscription["id"])
        if subscription is None:
            pending = [i for i in pending if _item_subscription(i) is None]
    if subscription is not None and not pending:
        raise invalid_request(
            "Nothing to invoice for subscription: it has no pending invoice items.", param="subscription"
        )
    currencies = {str(i["currency"]) for i in pending}
    if len(currencies) > 1:
        raise invalid_request(
            f"The pending invoice items are in several currencies ({', '.join(sorted(currencies))}).",
            param="pending_invoice_items_behavior",
        )
    currency = (
        currencies.pop() if currencies else str(params.get("currency") or (subscription or {}).get("currency") or "usd")
    )
    method = str(
        params.get("collection_method") or (subscription or {}).get("collection_method") or "charge_automatically"
    )
    days = params.get("days_until_due")
    days_until_due = None if days is None else to_int(days, "days_until_due")
    if days_until_due is None and subscription is not None:
        days_until_due = subscription.get("days_until_due")
    due_date = None if params.get("due_date") is None else to_int(params["due_date"], "due_date")
    if method == "send_invoice" and days_until_due is None and due_date is None:
        check_collection(method, None, "days_until_due")
    if method == "charge_automatically" and (days_until_due is not None and "days_until_due" in params):
        raise invalid_request(
            "You can only set `days_until_due` when `collection_method` is `send_invoice`.",
            param="days_until_due",
        )
    discounts = discounts_param(ctx, params.get("discounts"), "discounts", currency)
    now = ctx.now_ts
    invoice: JSONObject = {
        "id": ctx.new_id("in"),
        "object": "invoice",
        "account_country": "US",
        "account_name": "Sandbox Stripe account",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": to_bool(params.get("auto_advance", "false"), "auto_advance"),
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": "subscription" if subscription is not None else "manual",
        "collection_method": method,
        "created": now,
        "currency": currency,
        "custom_fields": None,
        "customer": customer["id"],
        "customer_account": None,
        "customer_address": customer.get("address"),
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "customer_phone": customer.get("phone"),
        "customer_shipping": customer.get("shipping"),
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": params.get("description") or None,
        "discounts": [d["coupon"] for d in discounts],
        "due_date": due_date,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": list_object("/v1/invoices/lines", []),
        "livemode": False,
        "metadata": check_metadata(params.get("metadata"), "metadata"),
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": None
        if subscription is None
        else {
            "quote_details": None,
            "subscription_details": {
                "metadata": subscription.get("metadata") or {},
                "subscription": subscription["id"],
            },
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": now,
        "period_start": now,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": None,
        "threshold_reason": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
        "_days_until_due": days_until_due,
        "_coupons": [d["coupon"] for d in discounts],
    }
    ctx.store.insert(invoice)
    for item in pending:
        item["invoice"] = invoice["id"]
        ctx.store.save(item)
    redeem(ctx.store, discounts)
    _recompute(ctx.store, invoice)
    ctx.store.save(invoice)
    return public_invoice(invoice)


@route("GET", "/v1/invoices/{invoice}")
def retrieve_invoice(ctx: RequestContext) -> JSONObject:
    return public_invoice(ctx.get_or_404("invoice", ctx.path_params["invoice"], kind="invoice"))


@route("POST", "/v1/invoices/{invoice}")
def update_invoice(ctx: RequestContext) -> JSONObject:
    invoice = ctx.get_or_404("invoice", ctx.path_params["invoice"], kind="invoice")
    only(ctx.params, ("metadata", "description"))
    if "metadata" in ctx.params:
        invoice["metadata"] = apply_metadata(invoice.get("metadata"), ctx.params["metadata"])
    if "description" in ctx.params:
        if invoice["status"] != "draft":
            raise invalid_request("Only draft invoices can change their description.", param="description")
        invoice["description"] = ctx.params["description"] or None
    ctx.store.save(invoice)
    return public_invoice(invoice)


@route("POST", "/v1/invoices/{invoice}/finalize")
def finalize_invoice(ctx: RequestContext) -> JSONObject:
    invoice = ctx.get_or_404("invoice", ctx.path_params["invoice"], kind="invoice")
    only(ctx.params, ("auto_advance",))
    if invoice["status"] != "draft":
        raise invalid_request(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.", param=None
        )
    now = ctx.now_ts
    _recompute(ctx.store, invoice)
    count = int(ctx.store.get_state("billing.invoice_number") or 0) + 1
    ctx.store.set_state("billing.invoice_number", count)
    invoice["number"] = f"SANDBOX-{count:04d}"
    invoice["status"] = "open" if invoice["amount_due"] > 0 else "paid"
    invoice["status_transitions"]["finalized_at"] = now
    if invoice["status"] == "paid":
        invoice["status_transitions"]["paid_at"] = now
    invoice["effective_at"] = now
    invoice["hosted_invoice_url"] = f"https://invoice.stripe.com/i/sandbox/{invoice['id']}"
    invoice["invoice_pdf"] = f"https://pay.stripe.com/invoice/sandbox/{invoice['id']}/pdf"
    if "auto_advance" in ctx.params:
        invoice["auto_advance"] = to_bool(ctx.params["auto_advance"], "auto_advance")
    if invoice["collection_method"] == "send_invoice" and invoice.get("due_date") is None:
        invoice["due_date"] = now + 86400 * int(invoice.get("_days_until_due") or 0)
    ctx.store.save(invoice)
    return public_invoice(invoice)


@route("GET", "/v1/invoices")
def list_invoices(ctx: RequestContext) -> JSONObject:
    filters: dict[str, str] = {}
    for key in ("customer", "subscription", "status"):
        if ctx.params.get(key):
            filters[key] = str(ctx.params[key])
    page = list_response(
        ctx,
        "invoice",
        url="/v1/invoices",
        filters=filters,
        supported_filters=("customer", "subscription", "status"),
        kind="invoice",
    )
    page["data"] = [public_invoice(i) for i in page["data"]]
    return page


@route("DELETE", "/v1/invoices/{invoice}")
def delete_invoice(ctx: RequestContext) -> JSONObject:
    """Only drafts can be deleted; their invoice items become pending again."""
    invoice = ctx.get_or_404("invoice", ctx.path_params["invoice"], kind="invoice")
    if invoice["status"] != "draft":
        raise invalid_request(
            f"You can only delete draft invoices; {invoice['id']} is {invoice['status']}.", param=None
        )
    for item in ctx.store.all("invoiceitem", _items_of(invoice["id"])):
        item["invoice"] = None
        ctx.store.save(item)
    ctx.store.delete("invoice", invoice["id"])
    return {"id": invoice["id"], "object": "invoice", "deleted": True}


register_index("invoice", "number")
register_index("invoice", "currency")
SEARCH_FIELDS = ("customer", "status", "subscription", "number", "currency")


@route("GET", "/v1/invoices/search")
def search_invoices(ctx: RequestContext) -> JSONObject:
    page = search_response(ctx, "invoice", url="/v1/invoices/search", fields=SEARCH_FIELDS)
    page["data"] = [public_invoice(i) for i in page["data"]]
    return page


@route("GET", "/v1/invoices/{invoice}/lines")
def list_invoice_lines(ctx: RequestContext) -> JSONObject:
    """An invoice's lines, in invoice order, with ``limit`` and ``starting_after``/``ending_before``."""
    invoice = ctx.get_or_404("invoice", ctx.path_params["invoice"], kind="invoice")
    only(ctx.params, ("limit", "starting_after", "ending_before"))
    lines: list[JSONObject] = invoice["lines"]["data"]
    limit = read_limit(ctx.params)
    position = {line["id"]: i for i, line in enumerate(lines)}
    start, stop = 0, len(lines)
    for key in ("starting_after", "ending_before"):
        if ctx.params.get(key):
            line_id = str(ctx.params[key])
            if line_id not in position:
                raise ctx.missing("line_item", line_id, param=key)
            if key == "starting_after":
                start = position[line_id] + 1
            else:
                stop = position[line_id]
    if ctx.params.get("ending_before"):
        window = lines[max(start, stop - limit) : stop]
        has_more = stop - limit > start
    else:
        window = lines[start : start + limit]
        has_more = start + limit < stop
    return {
        "object": "list",
        "data": window,
        "has_more": has_more,
        "url": f"/v1/invoices/{invoice['id']}/lines",
    }
