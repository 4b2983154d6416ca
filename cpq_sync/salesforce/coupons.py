"""Extract the coupons of the orders in a run: order-level coupons through the quote
(Quote_Stripe_Coupon_Association__c) and line-level ones through the quote line
(Quote_Line_Stripe_Coupon_Association__c), one query per association object and per 200 ids, the coupon's own
fields read as parent paths (`Quote_Stripe_Coupon__r.<field>`); when every association takes fewer calls to read than
the run's ids do, they are all read in one query instead (`select_in`).

The coupons are attached to the `OrderBundle`s; whether they are valid is the translator's business
(`translate.coupons`), so a bad coupon fails only the orders that use it, with a message naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from cpq_sync.desired import SfRef
from cpq_sync.errors import DataError
from cpq_sync.plan import Failure
from cpq_sync.records import CouponRecord, flatten
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import Extracted, select_in

log = logging.getLogger(__name__)

COUPON_PARENT = "quote_stripe_coupon__r."


@dataclass(frozen=True)
class Association:
    """One association row: the quote or quote line on one side, the coupon (or the error reading it) on the other."""

    target_id: str
    coupon: CouponRecord | None
    error: DataError | None = None


def association_query(sobject: str, target_field: str, coupon_fields: list[str]) -> str:
    """The associations' query, `{ids}` where the condition on the targets goes (`select_in`)."""
    parent = ", ".join(f"Quote_Stripe_Coupon__r.{f}" for f in coupon_fields)
    return (
        f"SELECT Id, {target_field}, {parent} FROM {sobject} "
        "WHERE {ids} AND Quote_Stripe_Coupon__c != null ORDER BY Id"
    )


def _associations(
    org: OrgClient, sobject: str, target_field: str, coupon_fields: list[str], ids: Iterable[str]
) -> list[Association]:
    out: list[Association] = []
    soql = association_query(sobject, target_field, coupon_fields)
    for record in select_in(org, soql, target_field, ids):
        row = flatten(record)
        target = str(row[target_field.lower()])
        try:
            out.append(Association(target, CouponRecord.from_flat(row, COUPON_PARENT)))
        except DataError as exc:
            out.append(Association(target, None, exc))
    return out


def attach_coupons(org: OrgClient, coupon_fields: list[str], extracted: Extracted) -> None:
    """Fills each bundle's `quote_coupons` and `line_coupons` (OrderItem id -> coupons of its quote line).
    An order whose coupon cannot even be read moves from the bundles to the failures."""
    bundles = extracted.bundles
    quote_ids = {b.order.quote_id for b in bundles if b.order.quote_id}
    line_ids = {i.quote_line_id for b in bundles for i in b.items if i.quote_line_id}
    if not quote_ids and not line_ids:
        return
    by_quote: dict[str, list[Association]] = {}
    for assoc in _associations(org, "Quote_Stripe_Coupon_Association__c", "Quote__c", coupon_fields, quote_ids):
        by_quote.setdefault(assoc.target_id, []).append(assoc)
    by_line: dict[str, list[Association]] = {}
    for assoc in _associations(
        org, "Quote_Line_Stripe_Coupon_Association__c", "Quote_Line__c", coupon_fields, line_ids
    ):
        by_line.setdefault(assoc.target_id, []).append(assoc)

    kept = []
    for bundle in bundles:
        quote = by_quote.get(bundle.order.quote_id or "", [])
        lines = {i.id: by_line.get(i.quote_line_id or "", []) for i in bundle.items}
        broken = next((a.error for a in [*quote, *(a for v in lines.values() for a in v)] if a.error), None)
        if broken is not None:
            extracted.failures.append(Failure(SfRef("Order", bundle.order.id), broken))
            continue
        bundle.quote_coupons = _unique(a.coupon for a in quote)
        bundle.line_coupons = {item: _unique(a.coupon for a in found) for item, found in lines.items() if found}
        kept.append(bundle)
    extracted.bundles = kept
    log.info("coupons: %d quotes and %d quote lines have some", len(by_quote), len(by_line))


def _unique(coupons: Iterable[CouponRecord | None]) -> list[CouponRecord]:
    """A coupon associated twice with the same quote (or line) is one discount."""
    seen: dict[str, CouponRecord] = {}
    for coupon in coupons:
        if coupon is not None:
            seen.setdefault(coupon.id, coupon)
    return list(seen.values())
