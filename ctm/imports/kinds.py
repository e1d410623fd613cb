"""The four kinds of import and their columns: which header names each kind reads (with the
aliases real exports use), which are required, and how a header text becomes a column name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("mappings", "substations", "circuits", "meters")


def normalize_header(text: object) -> str:
    """Header text as a column name: case ignored, surrounding spaces trimmed, inner spaces and
    hyphens read as underscores ("Account Number" and "account-number" are account_number)."""
    value = "" if text is None else str(text)
    value = value.replace("\xa0", " ").replace("\ufeff", "").replace("\u200b", "")
    value = value.strip().casefold()
    return re.sub(r"[\s\-]+", "_", value)


@dataclass(frozen=True)
class KindSpec:
    """One kind of import: its columns (canonical name → accepted header names) and which of them
    a file must have."""

    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)  # header name → canonical column

    def column_for(self, header: str) -> str | None:
        """The canonical column a normalized header names, or None when this kind ignores it."""
        if header in self.columns:
            return header
        return self.aliases.get(header)


MAPPINGS = KindSpec(
    "mappings",
    columns=(
        "account_number",
        "substation",
        "circuit",
        "customer_name",
        "customer_type",
        "critical_customer",
        "address",
        "contract_demand_kva",
        "active",
        "connected_since",
        "disconnected_on",
    ),
    required=("account_number", "substation", "circuit"),
    aliases={
        "account": "account_number",
        "account_no": "account_number",
        "circuit_id": "circuit",
        "substation_name": "substation",
        "customer": "customer_name",
    },
)

SUBSTATIONS = KindSpec(
    "substations",
    columns=("name", "code", "voltage_level", "region", "latitude", "longitude", "status"),
    required=("name",),
    aliases={"substation": "name", "substation_name": "name", "substation_code": "code"},
)

CIRCUITS = KindSpec(
    "circuits",
    columns=(
        "substation",
        "circuit",
        "description",
        "customers_served",
        "max_mapped_customers",
        "active",
        "retired_on",
    ),
    required=("substation", "circuit"),
    aliases={"circuit_id": "circuit", "substation_name": "substation"},
)

# The inventory columns monitoring teams export: Name, SiteID, Volt Level, Substation, Circuit,
# Location, Region, Active.
METERS = KindSpec(
    "meters",
    columns=(
        "meter_id",
        "site_id",
        "voltage_level",
        "substation",
        "circuit",
        "location",
        "region",
        "active",
    ),
    required=("meter_id", "substation"),
    aliases={
        "name": "meter_id",
        "meter": "meter_id",
        "meter_name": "meter_id",
        "siteid": "site_id",
        "volt_level": "voltage_level",
        "circuit_id": "circuit",
        "substation_name": "substation",
    },
)

SPECS = {spec.name: spec for spec in (MAPPINGS, SUBSTATIONS, CIRCUITS, METERS)}
