"""The sandbox org's schema: standard + CPQ objects (Python data) plus the project's SFDX metadata.

``load_schema()`` is what the store, SOQL engine and ``describe`` use. Standard and CPQ objects come from
``standard_objects.py``; the project's own custom fields and objects are parsed from the SFDX source-format
XML under ``<repo>/salesforce/force-app/main/default/objects``, so the sandbox and a real deployment share
one definition.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from cpq_sync.sandbox.salesforce.standard_objects import CPQ_OBJECTS, CURRENCIES, STANDARD_OBJECTS, F, O

FieldType = Literal[
    "id",
    "string",
    "textarea",
    "boolean",
    "int",
    "double",
    "currency",
    "percent",
    "date",
    "datetime",
    "picklist",
    "multipicklist",
    "reference",
    "email",
    "phone",
    "url",
    "address",
]
FIELD_TYPES: frozenset[str] = frozenset(get_args(FieldType))

SFDX_NS = "http://soap.sforce.com/2006/04/metadata"
DEFAULT_METADATA_DIR = Path(__file__).resolve().parents[3] / "salesforce"
OBJECTS_SUBDIR = Path("force-app/main/default/objects")

# Objects whose CurrencyIsoCode is inherited from the parent record (read-only on the child).
_CURRENCY_FROM_PARENT = frozenset({"OrderItem", "SBQQ__QuoteLine__c"})
# Standard objects whose Name is optional (Order Name, Contract Name).
_OPTIONAL_NAME = frozenset({"Order", "Contract"})


class SchemaError(ValueError):
    """The SFDX metadata uses something the sandbox does not support, or is inconsistent."""


class FieldDef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    type: FieldType
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    calculated: bool = False
    external_id: bool = False
    unique: bool = False
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    default_value: Any = None
    custom: bool = False


class ChildRelationship(BaseModel):
    model_config = ConfigDict(frozen=True)

    relationship_name: str
    child_sobject: str
    field: str


class SObjectDef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    key_prefix: str
    custom: bool
    fields: dict[str, FieldDef]
    child_relationships: tuple[ChildRelationship, ...] = ()

    @cached_property
    def _fields_lower(self) -> dict[str, FieldDef]:
        return {name.lower(): f for name, f in self.fields.items()}

    @cached_property
    def _relationships_lower(self) -> dict[str, FieldDef]:
        return {f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name}

    @cached_property
    def _children_lower(self) -> dict[str, ChildRelationship]:
        return {c.relationship_name.lower(): c for c in self.child_relationships}

    def field(self, name: str) -> FieldDef | None:
        """The field with this API name, case-insensitively."""
        return self._fields_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose parent relationship is ``name`` (``Account``, ``SBQQ__Quote__r``)."""
        return self._relationships_lower.get(name.lower())

    def child_relationship(self, name: str) -> ChildRelationship | None:
        """The child relationship named ``name`` (e.g. ``OrderItems``), case-insensitively."""
        return self._children_lower.get(name.lower())


class Schema:
    """All objects of the org, looked up case-insensitively."""

    def __init__(self, objects: Iterable[SObjectDef]) -> None:
        self.objects: dict[str, SObjectDef] = {o.name: o for o in objects}
        self._lower = {name.lower(): o for name, o in self.objects.items()}
        self._by_prefix = {o.key_prefix: o for o in self.objects.values()}

    def sobject(self, name: str) -> SObjectDef | None:
        return self._lower.get(name.lower())

    def by_key_prefix(self, prefix: str) -> SObjectDef | None:
        """The object whose Ids start with this 3-character key prefix."""
        return self._by_prefix.get(prefix[:3])


# ----------------------------------------------------------------------------------------------------
# Standard + CPQ objects from Python data


def _label(api_name: str) -> str:
    base = api_name.removeprefix("SBQQ__").removesuffix("__c")
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2]
    out: list[str] = []
    for i, ch in enumerate(base.replace("_", " ")):
        if ch.isupper() and i and base[i - 1].islower():
            out.append(" ")
        out.append(ch)
    return "".join(out)


def _from_spec(f: F) -> FieldDef:
    if f.type not in FIELD_TYPES:
        raise SchemaError(f"unknown field type {f.type!r} for {f.name}")
    return FieldDef(
        name=f.name,
        label=f.label or _label(f.name),
        type=f.type,
        length=f.length,
        precision=f.precision,
        scale=f.scale,
        nillable=f.nillable,
        createable=f.createable,
        updateable=f.updateable,
        calculated=f.calculated,
        external_id=f.external_id,
        unique=f.unique,
        picklist_values=f.picklist,
        restricted_picklist=f.restricted,
        reference_to=f.ref,
        relationship_name=f.rel,
        default_value=f.default,
        custom=f.name.endswith("__c"),
    )


def _system_fields(spec: O) -> list[FieldDef]:
    def sysf(name: str, type_: FieldType, **kw: Any) -> FieldDef:
        return FieldDef(
            name=name,
            label=_label(name),
            type=type_,
            createable=False,
            updateable=False,
            nillable=False,
            **kw,
        )

    fields = [
        sysf("Id", "id", length=18),
        sysf("IsDeleted", "boolean", default_value=False),
        sysf("CreatedDate", "datetime"),
        sysf("CreatedById", "reference", length=18, reference_to=("User",), relationship_name="CreatedBy"),
        sysf("LastModifiedDate", "datetime"),
        sysf(
            "LastModifiedById",
            "reference",
            length=18,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
        ),
        sysf("SystemModstamp", "datetime"),
    ]
    if spec.has_name:
        if spec.name_autonumber:
            fields.append(sysf("Name", "string", length=80))
        elif spec.name in ("User", "Contact"):  # compound name, computed from FirstName/LastName
            fields.append(
                FieldDef(
                    name="Name",
                    label="Full Name",
                    type="string",
                    length=121,
                    createable=False,
                    updateable=False,
                )
            )
        elif spec.name == "PricebookEntry":  # the product's name
            fields.append(
                FieldDef(
                    name="Name",
                    label="Product Name",
                    type="string",
                    length=255,
                    createable=False,
                    updateable=False,
                )
            )
        else:
            fields.append(
                FieldDef(
                    name="Name",
                    label=f"{spec.label} Name",
                    type="string",
                    length=255,
                    nillable=spec.name in _OPTIONAL_NAME,
                )
            )
    if spec.owner:
        fields.append(
            FieldDef(
                name="OwnerId",
                label="Owner ID",
                type="reference",
                length=18,
                nillable=False,
                reference_to=("User",),
                relationship_name="Owner",
            )
        )
    if spec.currency:
        from_parent = spec.name in _CURRENCY_FROM_PARENT
        fields.append(
            FieldDef(
                name="CurrencyIsoCode",
                label="Currency ISO Code",
                type="picklist",
                length=3,
                picklist_values=CURRENCIES,
                restricted_picklist=True,
                createable=not from_parent,
                updateable=not from_parent and spec.name != "PricebookEntry",
                default_value="USD",
            )
        )
    return fields


class _ObjectDraft:
    """An object being assembled: fields may still be added by the SFDX metadata."""

    def __init__(self, name: str, label: str, key_prefix: str, custom: bool) -> None:
        self.name, self.label, self.key_prefix, self.custom = name, label, key_prefix, custom
        self.fields: dict[str, FieldDef] = {}
        self.child_names: dict[str, str | None] = {}  # field -> child relationship name on the parent

    def add(self, f: FieldDef, child_rel: str | None = None) -> None:
        if f.name.lower() in (n.lower() for n in self.fields):
            raise SchemaError(f"{self.name}.{f.name} is defined twice")
        self.fields[f.name] = f
        if f.type == "reference":
            self.child_names[f.name] = child_rel


def _custom_prefix(index: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if index >= len(letters):
        raise SchemaError("more custom objects than the sandbox has key prefixes for (a0A..a0Z)")
    return f"a0{letters[index]}"


def _draft_from_spec(spec: O, key_prefix: str) -> _ObjectDraft:
    draft = _ObjectDraft(spec.name, spec.label, key_prefix, spec.custom)
    for system_field in _system_fields(spec):
        draft.add(system_field)
    for spec_field in spec.fields:
        draft.add(_from_spec(spec_field), spec_field.child_rel)
    return draft


# ----------------------------------------------------------------------------------------------------
# SFDX source-format metadata


def _q(tag: str) -> str:
    return f"{{{SFDX_NS}}}{tag}"


def _text(el: ET.Element, tag: str) -> str | None:
    child = el.find(_q(tag))
    return child.text.strip() if child is not None and child.text is not None else None


def _int(el: ET.Element, tag: str) -> int | None:
    value = _text(el, tag)
    return int(value) if value is not None else None


def _bool(el: ET.Element, tag: str) -> bool:
    return (_text(el, tag) or "false").lower() == "true"


def _parse_xml(path: Path, root_tag: str) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SchemaError(f"{path}: invalid XML: {exc}") from exc
    if root.tag != _q(root_tag):
        raise SchemaError(f"{path}: expected <{root_tag}> in namespace {SFDX_NS}, found {root.tag}")
    return root


def parse_field_xml(path: Path) -> tuple[FieldDef, str | None]:
    """One ``*.field-meta.xml`` as a FieldDef, plus the child relationship name for lookups."""
    root = _parse_xml(path, "CustomField")
    name = _text(root, "fullName")
    if name is None or f"{name}.field-meta.xml" != path.name:
        raise SchemaError(f"{path}: fullName {name!r} does not match the file name")
    label = _text(root, "label") or name
    sf_type = _text(root, "type")
    required = _bool(root, "required")
    common: dict[str, Any] = {
        "name": name,
        "label": label,
        "external_id": _bool(root, "externalId"),
        "unique": _bool(root, "unique"),
        "nillable": not required,
        "custom": True,
    }
    child_rel: str | None = None
    if sf_type == "Text":
        fd = FieldDef(type="string", length=_int(root, "length"), **common)
    elif sf_type in ("LongTextArea", "TextArea"):
        fd = FieldDef(type="textarea", length=_int(root, "length") or 255, **common)
    elif sf_type == "Checkbox":
        default = (_text(root, "defaultValue") or "false").lower() == "true"
        fd = FieldDef(type="boolean", default_value=default, **{**common, "nillable": False})
    elif sf_type in ("Number", "Currency", "Percent"):
        kind = {"Number": "double", "Currency": "currency", "Percent": "percent"}[sf_type]
        fd = FieldDef(type=kind, precision=_int(root, "precision"), scale=_int(root, "scale"), **common)
    elif sf_type in ("Date", "DateTime"):
        fd = FieldDef(type="date" if sf_type == "Date" else "datetime", **common)
    elif sf_type in ("Url", "Email", "Phone"):
        fd = FieldDef(type=sf_type.lower(), length=255, **common)
    elif sf_type == "Picklist":
        value_set = root.find(_q("valueSet"))
        definition = value_set.find(_q("valueSetDefinition")) if value_set is not None else None
        if value_set is None or definition is None:
            raise SchemaError(f"{path}: picklist without a valueSetDefinition (global value sets unsupported)")
        values = tuple(v.findtext(_q("fullName"), "").strip() for v in definition.findall(_q("value")))
        fd = FieldDef(
            type="picklist",
            length=255,
            picklist_values=values,
            restricted_picklist=_bool(value_set, "restricted"),
            **common,
        )
    elif sf_type in ("Lookup", "MasterDetail"):
        target = _text(root, "referenceTo")
        child = _text(root, "relationshipName")
        if target is None or child is None:
            raise SchemaError(f"{path}: a lookup needs referenceTo and relationshipName")
        child_rel = f"{child}__r"
        fd = FieldDef(
            type="reference",
            length=18,
            reference_to=(target,),
            relationship_name=name.removesuffix("__c") + "__r",
            **{**common, "nillable": sf_type == "Lookup" and not required},
        )
    else:
        raise SchemaError(f"{path}: field type {sf_type!r} is not supported by the sandbox")
    if fd.type == "reference" and not name.endswith("__c"):
        raise SchemaError(f"{path}: custom field names end in __c")
    return fd, child_rel


def _parse_object_xml(path: Path, name: str, key_prefix: str) -> _ObjectDraft:
    root = _parse_xml(path, "CustomObject")
    label = _text(root, "label") or name
    name_field = root.find(_q("nameField"))
    if name_field is None:
        raise SchemaError(f"{path}: a custom object needs a nameField")
    name_type = _text(name_field, "type")
    if name_type not in ("Text", "AutoNumber"):
        raise SchemaError(f"{path}: nameField type {name_type!r} is not supported")
    spec = O(
        name,
        label,
        key_prefix,
        custom=True,
        has_name=True,
        name_autonumber=name_type == "AutoNumber",
        currency=True,  # a multi-currency org gives every custom object CurrencyIsoCode
        owner=(_text(root, "sharingModel") or "ReadWrite") != "ControlledByParent",
    )
    draft = _draft_from_spec(spec, key_prefix)
    draft.fields["Name"] = draft.fields["Name"].model_copy(update={"label": _text(name_field, "label") or "Name"})
    return draft


def _build(metadata_dir: Path) -> Schema:
    drafts: dict[str, _ObjectDraft] = {}
    for spec in STANDARD_OBJECTS:
        drafts[spec.name] = _draft_from_spec(spec, spec.key_prefix)
    prefix_index = 0
    for spec in CPQ_OBJECTS:
        drafts[spec.name] = _draft_from_spec(spec, _custom_prefix(prefix_index))
        prefix_index += 1

    objects_dir = metadata_dir / OBJECTS_SUBDIR
    if not objects_dir.is_dir():
        raise SchemaError(f"no SFDX objects folder at {objects_dir}")
    object_dirs = sorted(p for p in objects_dir.iterdir() if p.is_dir())
    for obj_dir in object_dirs:  # custom objects first, so fields can be added to them below
        object_file = obj_dir / f"{obj_dir.name}.object-meta.xml"
        if obj_dir.name in drafts:
            continue
        if not object_file.is_file():
            raise SchemaError(f"{obj_dir}: not a known standard object and no {object_file.name}")
        drafts[obj_dir.name] = _parse_object_xml(object_file, obj_dir.name, _custom_prefix(prefix_index))
        prefix_index += 1
    for obj_dir in object_dirs:
        for field_file in sorted((obj_dir / "fields").glob("*.field-meta.xml")):
            fd, child_rel = parse_field_xml(field_file)
            drafts[obj_dir.name].add(fd, child_rel)

    children: dict[str, list[ChildRelationship]] = {name: [] for name in drafts}
    for draft in drafts.values():
        for field_name, child_rel in draft.child_names.items():
            for target in draft.fields[field_name].reference_to:
                if target not in drafts:
                    raise SchemaError(f"{draft.name}.{field_name} references unknown object {target}")
                if child_rel is not None:
                    children[target].append(
                        ChildRelationship(relationship_name=child_rel, child_sobject=draft.name, field=field_name)
                    )
    objects = []
    for draft in drafts.values():
        names = [c.relationship_name.lower() for c in children[draft.name]]
        if len(names) != len(set(names)):
            raise SchemaError(f"{draft.name} has two child relationships with the same name: {sorted(names)}")
        objects.append(
            SObjectDef(
                name=draft.name,
                label=draft.label,
                key_prefix=draft.key_prefix,
                custom=draft.custom,
                fields=draft.fields,
                child_relationships=tuple(children[draft.name]),
            )
        )
    return Schema(objects)


@functools.cache
def _load_cached(metadata_dir: Path) -> Schema:
    return _build(metadata_dir)


def load_schema(metadata_dir: Path | None = None) -> Schema:
    """The org schema: standard + CPQ objects plus the project's SFDX custom fields and objects (cached)."""
    return _load_cached((metadata_dir or DEFAULT_METADATA_DIR).resolve())
