"""Add mapping with what it needs: an existing or a new customer (account number, name, type) and
an existing or, for admins, a new circuit on the chosen substation — all written in one unit of
work, so a refused mapping leaves no new customer and no new circuit behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlalchemy.engine import Engine

from ctm.circuits import add_circuit_in
from ctm.customers import CustomerInput, add_customer_in
from ctm.db import Identity, user_transaction
from ctm.errors import ValidationError
from ctm.mappings import MappingChange, connect_mapping_in


@dataclass(frozen=True)
class NewCircuit:
    """A circuit to register on the mapping's substation (admins)."""

    name: str
    description: str | None = None


def add_mapping_with_new(
    engine: Engine,
    identity: Identity,
    *,
    substation_id: UUID,
    customer_id: UUID | None = None,
    new_customer: CustomerInput | None = None,
    circuit_id: str | None = None,
    new_circuit: NewCircuit | None = None,
    connected_since: date | None = None,
) -> MappingChange:
    """Create the new customer and/or circuit, then the mapping (valid from `connected_since`);
    all or nothing. A customer made here carries the critical flag (it is created because it is
    critical). Returns the mapping and the past events it could be added to."""
    if (customer_id is None) == (new_customer is None):
        raise ValidationError("Choose an existing customer or enter a new one (not both)")
    if (circuit_id is None) == (new_circuit is None):
        raise ValidationError("Choose an existing circuit or enter a new one (not both)")
    with user_transaction(engine, identity) as conn:
        if new_customer is not None:
            flagged = CustomerInput(
                account_number=new_customer.account_number,
                name=new_customer.name,
                customer_type=new_customer.customer_type,
                address=new_customer.address,
                contract_demand_kva=new_customer.contract_demand_kva,
                critical_customer=True,
            )
            customer_id = add_customer_in(conn, flagged).id
        if new_circuit is not None:
            circuit_id = add_circuit_in(
                conn, substation_id, new_circuit.name, description=new_circuit.description
            ).circuit_id
        return connect_mapping_in(conn, customer_id, substation_id, circuit_id, connected_since)
