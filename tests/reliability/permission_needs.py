"""What the sync needs from Salesforce, derived from what it sends: every SOQL query (REST and Bulk) parsed with the
strict SOQL grammar and resolved against the org's schema (relationship paths, child subqueries, semi-joins), and
every write (sObject and Collections create / update / upsert / delete, Composite subrequests), recorded from the
real simple-salesforce client's requests. Compared with the permission set in `salesforce/`."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cpq_sync.sandbox.salesforce.schema import FieldDef, Schema
from cpq_sync.sandbox.salesforce.soql.parser import BoolOp, Comparison, Condition, CountItem, FieldPath, Not, Query
from cpq_sync.sandbox.salesforce.soql.parser import parse as parse_soql
from cpq_sync.sandbox.salesforce.store import SYSTEM_FIELDS

ROOT = Path(__file__).resolve().parents[2]
PERMISSION_SET = (
    ROOT / "salesforce/force-app/main/default/permissionsets/CPQ_Stripe_Sync_Integration.permissionset-meta.xml"
)
NS = "http://soap.sforce.com/2006/04/metadata"
_PATH = re.compile(r"^/services/data/v\d+\.\d+/(.*)$")

# Objects with no permissions of their own: Salesforce controls them through their parent's.
CONTROLLED_BY = {
    "OrderItem": ("Order",),
    "PricebookEntry": ("Pricebook2", "Product2"),
    "ConsumptionRate": ("ConsumptionSchedule",),
    "ProductConsumptionSchedule": ("ConsumptionSchedule", "Product2"),
}
# Fields field-level security does not apply to (always readable to whoever reads the object).
UNPERMISSIONABLE = {*SYSTEM_FIELDS, "Name", "OwnerId", "CurrencyIsoCode"}


# Standard fields Salesforce requires though the sandbox schema lets them be empty (not permissionable either).
REQUIRED_STANDARD = {"Order.AccountId"}


def permissionable(sobject: str, fd: FieldDef) -> bool:
    """Whether a permission set grants this field, as Salesforce's `permissionable` describe attribute says: not a
    system or name field, not a standard field the system alone sets (auto numbers), not a required field (a
    checkbox is never required: it always has a value)."""
    if fd.name in UNPERMISSIONABLE or f"{sobject}.{fd.name}" in REQUIRED_STANDARD:
        return False
    if not fd.custom and not fd.createable and not fd.updateable:
        return False
    return fd.type == "boolean" or fd.nillable or not fd.createable


@dataclass
class Needs:
    objects: dict[str, set[str]] = field(default_factory=dict)  # object -> {read, create, edit, delete}
    fields: dict[str, set[str]] = field(default_factory=dict)  # Object.Field -> {read, edit}

    def obj(self, name: str, *access: str) -> None:
        for target in CONTROLLED_BY.get(name, (name,)):
            self.objects.setdefault(target, set()).update(("read", *access))

    def fld(self, schema: Schema, sobject: str, name: str, *access: str) -> None:
        sobj = schema.sobject(sobject)
        assert sobj is not None, sobject
        fd = sobj.field(name)
        assert fd is not None, f"{sobject}.{name}"
        if permissionable(sobj.name, fd):
            self.fields.setdefault(f"{sobj.name}.{fd.name}", set()).update(("read", *access))


class Deriver:
    """Turns recorded requests into Needs."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.needs = Needs()

    def _canonical(self, name: str) -> str:
        sobj = self.schema.sobject(name)
        assert sobj is not None, name
        return sobj.name

    # -- SOQL
    def soql(self, text: str) -> None:
        query = parse_soql(text)
        self._query(query, self._canonical(query.sobject))

    def _query(self, query: Query, sobject: str) -> None:
        self.needs.obj(sobject)
        for item in query.select:
            if isinstance(item, FieldPath):
                self._path(sobject, item.parts)
            elif isinstance(item, Query):
                parent = self.schema.sobject(sobject)
                assert parent is not None
                child = parent.child_relationship(item.sobject)
                assert child is not None, f"{sobject}.{item.sobject}"
                self._query(item, child.child_sobject)
            else:
                assert isinstance(item, CountItem)
        if query.where is not None:
            self._condition(query.where, sobject)
        for key in query.order_by:
            self._path(sobject, key.path.parts)

    def _condition(self, condition: Condition, sobject: str) -> None:
        if isinstance(condition, BoolOp):
            for item in condition.items:
                self._condition(item, sobject)
        elif isinstance(condition, Not):
            self._condition(condition.item, sobject)
        else:
            assert isinstance(condition, Comparison)
            self._path(sobject, condition.path.parts)
            if condition.subquery is not None:
                self._query(condition.subquery, self._canonical(condition.subquery.sobject))

    def _path(self, sobject: str, parts: tuple[str, ...]) -> None:
        current = sobject
        for relationship in parts[:-1]:
            sobj = self.schema.sobject(current)
            assert sobj is not None
            reference = sobj.relationship(relationship)
            assert reference is not None, f"{current}.{relationship}"
            self.needs.fld(self.schema, current, reference.name)
            current = reference.reference_to[0]
            self.needs.obj(current)
        self.needs.fld(self.schema, current, parts[-1])

    # -- writes
    def _written(self, sobject: str, record: dict[str, Any], *access: str) -> None:
        sobject = self._canonical(sobject)
        self.needs.obj(sobject, *access)
        for name in record:
            if name not in ("attributes", "Id"):
                self.needs.fld(self.schema, sobject, name, "edit")

    def _deleted(self, ids: Iterable[str]) -> None:
        for record_id in ids:
            sobj = self.schema.by_key_prefix(record_id)
            assert sobj is not None, record_id
            self.needs.obj(sobj.name, "delete")

    def request(self, method: str, url: str, body: Any) -> None:
        parts = urlsplit(url)
        match = _PATH.match(parts.path)
        assert match is not None, url
        path = [unquote(p) for p in match.group(1).strip("/").split("/")]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        method = method.upper()
        head = path[0]
        if head in ("query", "queryAll") and "q" in query:
            self.soql(query["q"])
        elif head == "jobs" and method == "POST" and len(path) == 2:
            self.soql(body["query"])
        elif head == "sobjects" and len(path) >= 2:
            self._sobject(method, path[1:], query, body)
        elif head == "composite" and len(path) == 1:
            for sub in body["compositeRequest"]:
                self.request(sub["method"], sub["url"], sub.get("body"))
        elif head == "composite" and path[1] == "sobjects":
            self._collection(method, path[2:], query, body)

    def _sobject(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> None:
        sobject = rest[0]
        if len(rest) == 1 and method == "POST":
            self._written(sobject, body, "create")
        elif len(rest) == 2 and rest[1] == "describe":
            self.needs.obj(self._canonical(sobject))
        elif len(rest) == 2 and method == "GET":
            self.needs.obj(self._canonical(sobject))
            for name in query.get("fields", "").split(","):
                if name:
                    self.needs.fld(self.schema, sobject, name)
        elif len(rest) == 2 and method == "PATCH":
            self._written(sobject, body, "edit")
        elif len(rest) == 2 and method == "DELETE":
            self._deleted([rest[1]])
        elif len(rest) == 3 and method == "PATCH":  # upsert on an external id
            self._written(sobject, body, "create", "edit")
            self.needs.fld(self.schema, sobject, rest[1], "edit")

    def _collection(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> None:
        if method == "DELETE":
            self._deleted(query["ids"].split(","))
            return
        if method == "GET" or (method == "POST" and isinstance(body, dict) and "ids" in body):  # retrieve
            fields = query.get("fields", "").split(",") if method == "GET" else body["fields"]
            self.needs.obj(self._canonical(rest[0]))
            for name in fields:
                if name:
                    self.needs.fld(self.schema, rest[0], name)
            return
        upsert = len(rest) == 2
        for record in body["records"]:
            access = ("create", "edit") if upsert else ("create",) if method == "POST" else ("edit",)
            self._written(record["attributes"]["type"], record, *access)
        if upsert:
            self.needs.fld(self.schema, rest[0], rest[1], "edit")


def granted() -> Needs:
    """What the permission set grants (viewAll / modifyAll must stay off)."""
    root = ET.parse(PERMISSION_SET).getroot()
    found = Needs()

    def text(el: ET.Element, tag: str) -> str:
        child = el.find(f"{{{NS}}}{tag}")
        assert child is not None and child.text is not None, tag
        return child.text

    for el in root.findall(f"{{{NS}}}objectPermissions"):
        assert text(el, "viewAllRecords") == "false" and text(el, "modifyAllRecords") == "false"
        flags = {"allowRead": "read", "allowCreate": "create", "allowEdit": "edit", "allowDelete": "delete"}
        found.objects[text(el, "object")] = {access for tag, access in flags.items() if text(el, tag) == "true"}
    for el in root.findall(f"{{{NS}}}fieldPermissions"):
        access = {a for tag, a in (("readable", "read"), ("editable", "edit")) if text(el, tag) == "true"}
        found.fields[text(el, "field")] = access
    return found


def render(needs: Needs, description: str) -> str:
    """The permission set granting exactly `needs` (to regenerate the file when the sync's needs change)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<PermissionSet xmlns="{NS}">']
    out.append(f"    <description>{description}</description>")
    for name in sorted(needs.fields):
        access = needs.fields[name]
        out += [
            "    <fieldPermissions>",
            f"        <editable>{str('edit' in access).lower()}</editable>",
            f"        <field>{name}</field>",
            "        <readable>true</readable>",
            "    </fieldPermissions>",
        ]
    out.append("    <hasActivationRequired>false</hasActivationRequired>")
    out.append("    <label>CPQ Stripe Sync Integration</label>")
    for name in sorted(needs.objects):
        access = needs.objects[name]
        out.append("    <objectPermissions>")
        for tag, flag in (("allowCreate", "create"), ("allowDelete", "delete"), ("allowEdit", "edit")):
            out.append(f"        <{tag}>{str(flag in access).lower()}</{tag}>")
        out.append("        <allowRead>true</allowRead>")
        out.append("        <modifyAllRecords>false</modifyAllRecords>")
        out.append(f"        <object>{name}</object>")
        out.append("        <viewAllRecords>false</viewAllRecords>")
        out.append("    </objectPermissions>")
    out += [
        "    <userPermissions>",
        "        <enabled>true</enabled>",
        "        <name>ApiEnabled</name>",
        "    </userPermissions>",
        "</PermissionSet>",
    ]
    return "\n".join(out) + "\n"


def body_of(raw: bytes | str | None) -> Any:
    if raw in (None, b"", ""):
        return None
    return json.loads(raw)
