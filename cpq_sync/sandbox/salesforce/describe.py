"""``describe`` answers (global and per object) in the shape of the real REST API, built from the schema."""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.salesforce.schema import FieldDef, Schema, SObjectDef
from cpq_sync.sandbox.salesforce.store import CASCADE_DELETE, is_auto_number

_SOAP = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
}


def _urls(sobj: SObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{sobj.name}"
    return {
        "rowTemplate": f"{base}/{{ID}}",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "describe": f"{base}/describe",
        "sobject": base,
    }


def _label_plural(label: str) -> str:
    return label[:-1] + "ies" if label.endswith("y") else label + "s"


def global_describe(schema: Schema, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [sobject_summary(sobj, version) for sobj in schema.objects.values()],
    }


def sobject_summary(sobj: SObjectDef, version: str) -> dict[str, Any]:
    return {
        "activateable": False,
        "createable": True,
        "custom": sobj.custom,
        "customSetting": False,
        "deletable": True,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "keyPrefix": sobj.key_prefix,
        "label": sobj.label,
        "labelPlural": _label_plural(sobj.label),
        "layoutable": True,
        "mergeable": sobj.name in ("Account", "Contact"),
        "mruEnabled": True,
        "name": sobj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
        "urls": _urls(sobj, version),
    }


def _field(sobj: SObjectDef, fd: FieldDef) -> dict[str, Any]:
    text = fd.type in ("string", "textarea", "picklist", "multipicklist", "email", "phone", "url")
    auto = is_auto_number(sobj.name, fd)
    long_text = fd.type == "textarea" and (fd.length or 0) > 255
    return {
        "aggregatable": fd.type != "address" and not long_text,
        "autoNumber": auto,
        "byteLength": (fd.length or 0) * 3 if text or fd.type in ("id", "reference") else 0,
        "calculated": fd.calculated and not auto,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": _compound_of(sobj, fd),
        "createable": fd.createable,
        "custom": fd.custom,
        "defaultValue": fd.default_value if fd.type != "boolean" else None,
        "defaultedOnCreate": fd.default_value is not None or fd.name in ("Id", "OwnerId", "CreatedDate"),
        "deprecatedAndHidden": False,
        "digits": 0,
        "externalId": fd.external_id,
        "filterable": fd.type != "address" and not long_text,
        "groupable": fd.type not in ("address", "double", "currency", "percent", "datetime") and not long_text,
        "idLookup": fd.name == "Id" or fd.external_id,
        "label": fd.label,
        "length": fd.length or 0 if text or fd.type in ("id", "reference") else 0,
        "name": fd.name,
        "nameField": fd.name == "Name",
        "nillable": fd.nillable,
        "picklistValues": [
            {"active": True, "defaultValue": v == fd.default_value, "label": v, "validFor": None, "value": v}
            for v in fd.picklist_values
        ],
        "precision": fd.precision or 0,
        "referenceTo": list(fd.reference_to),
        "relationshipName": fd.relationship_name,
        "restrictedPicklist": fd.restricted_picklist,
        "scale": fd.scale or 0,
        "soapType": _SOAP.get(fd.type, "xsd:string"),
        "sortable": fd.type not in ("address", "multipicklist") and not long_text,
        "type": fd.type,
        "unique": fd.unique,
        "updateable": fd.updateable,
    }


def _compound_of(sobj: SObjectDef, fd: FieldDef) -> str | None:
    for part in ("Street", "City", "State", "PostalCode", "Country"):
        if fd.name.endswith(part):
            compound = fd.name.removesuffix(part) + "Address"
            if compound in sobj.fields:
                return compound
    if fd.name in ("FirstName", "LastName") and sobj.name in ("Contact", "User"):
        return "Name"
    return None


def sobject_describe(schema: Schema, sobj: SObjectDef, version: str) -> dict[str, Any]:
    cascades = {(child, fld) for child, fld in CASCADE_DELETE.get(sobj.name, ())}
    out = sobject_summary(sobj, version)
    out.update(
        {
            "childRelationships": [
                {
                    "cascadeDelete": (c.child_sobject, c.field) in cascades,
                    "childSObject": c.child_sobject,
                    "deprecatedAndHidden": False,
                    "field": c.field,
                    "junctionIdListNames": [],
                    "junctionReferenceTo": [],
                    "relationshipName": c.relationship_name,
                    "restrictedDelete": False,
                }
                for c in sobj.child_relationships
            ],
            "fields": [_field(sobj, fd) for fd in sobj.fields.values()],
            "recordTypeInfos": [],
            "supportedScopes": [{"label": "All records", "name": "everything"}],
        }
    )
    return out
