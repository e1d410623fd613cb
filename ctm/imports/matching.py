"""Finding what a file's names mean: substations by name or code (case and spaces ignored),
circuits within a substation, with "did you mean …" suggestions from the closest existing names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def name_key(text: str) -> str:
    """What two names must share to be the same: letters and digits, any case, no spaces
    (str.split's whitespace is the regular expression \\s: every Unicode space)."""
    return "".join(text.split()).casefold()


@lru_cache(maxsize=65536)
def canonical_circuit(text: str) -> str:
    """Circuit names as the database stores them: trimmed, upper case ("h1 " is H1)."""
    return " ".join(text.split()).upper()


def suggest(wanted: str, choices: dict[str, str], n: int = 3) -> str:
    """' (did you mean A, B?)' from the closest of `choices` (key → name shown), or ''."""
    close = difflib.get_close_matches(name_key(wanted), list(choices), n=n, cutoff=0.5)
    if not close:
        return ""
    shown = []
    for key in close:
        if choices[key] not in shown:
            shown.append(choices[key])
    return f" (did you mean {', '.join(shown)}?)"


@dataclass(frozen=True)
class SubstationRef:
    id: UUID
    name: str
    code: str | None


class SubstationNames:
    """Every substation the acting user can see, looked up by name or code."""

    def __init__(self, conn: Connection):
        rows = conn.execute(sa.text("SELECT id, name, code FROM public.substations")).all()
        self.by_id = {r.id: SubstationRef(r.id, r.name, r.code) for r in rows}
        self._names: dict[str, list[SubstationRef]] = {}
        self._codes: dict[str, SubstationRef] = {}
        self.shown: dict[str, str] = {}
        for ref in self.by_id.values():
            self._names.setdefault(name_key(ref.name), []).append(ref)
            self.shown.setdefault(name_key(ref.name), ref.name)
            if ref.code:
                self._codes[name_key(ref.code)] = ref
                self.shown.setdefault(name_key(ref.code), ref.code)

    def find(self, text: str) -> tuple[SubstationRef | None, str | None]:
        """The substation `text` names, or None and the reason it names none."""
        key = name_key(text)
        by_name = self._names.get(key, [])
        by_code = self._codes.get(key)
        candidates = {r.id: r for r in by_name}
        if by_code is not None:
            candidates[by_code.id] = by_code
        if len(candidates) == 1:
            return next(iter(candidates.values())), None
        if len(candidates) > 1:
            codes = ", ".join(sorted(r.code or "(no code)" for r in candidates.values()))
            return None, f"{text!r} names {len(candidates)} substations: use the code ({codes})"
        return None, f"unknown substation {text!r}{suggest(text, self.shown)}"


class CircuitNames:
    """The registered circuits of some substations (public.substation_circuits)."""

    def __init__(self, conn: Connection, substation_ids: list[UUID]):
        rows = conn.execute(
            sa.text(
                "SELECT substation_id, circuit_id FROM public.substation_circuits"
                " WHERE substation_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": [str(i) for i in substation_ids]},
        ).all()
        self._known: dict[UUID, dict[str, str]] = {}
        for r in rows:
            self._known.setdefault(r.substation_id, {})[name_key(r.circuit_id)] = r.circuit_id

    def known(self, substation_id: UUID, circuit: str) -> bool:
        return name_key(circuit) in self._known.get(substation_id, {})

    def suggestion(self, substation_id: UUID, circuit: str) -> str:
        return suggest(circuit, self._known.get(substation_id, {}))
