"""`ctm demo-data`: a realistic, deterministic demo grid around Hong Kong — substations, circuits,
customers, mappings, a year of PQ events (impacts made by the database trigger) and demo logins.
Every row it creates is recorded in ctm_private.demo_rows so --force replaces only those."""

from __future__ import annotations

import functools
import io
import itertools
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ctm.db import owner_transaction
from ctm.users import add_user_in, hash_password

SUBSTATIONS = 30
CIRCUITS = 300
CUSTOMERS = 3000
MAPPINGS = 2500
EVENTS = 20000
INACTIVE_SHARE = 0.05
DEMO_BCRYPT_ROUNDS = 10

# Shown on the login page of a demo database only (ctm_private.demo_users).
DEMO_USERS = (
    ("admin", "admin-demo", "admin", "Ada Admin"),
    ("operator", "operator-demo", "operator", "Oscar Operator"),
    ("viewer", "viewer-demo", "viewer", "Vera Viewer"),
)

# name, code, region, latitude, longitude
_PLACES = [
    ("Kowloon Bay", "KBY", "Kowloon East", 22.3236, 114.2139),
    ("Kwun Tong", "KWT", "Kowloon East", 22.3120, 114.2257),
    ("Lam Tin", "LTN", "Kowloon East", 22.3070, 114.2370),
    ("Yau Tong", "YTG", "Kowloon East", 22.2970, 114.2370),
    ("Ngau Tau Kok", "NTK", "Kowloon East", 22.3155, 114.2190),
    ("Diamond Hill", "DMH", "Kowloon East", 22.3400, 114.2010),
    ("Wong Tai Sin", "WTS", "Kowloon Central", 22.3420, 114.1940),
    ("Kowloon Tong", "KTG", "Kowloon Central", 22.3370, 114.1760),
    ("Ho Man Tin", "HMT", "Kowloon Central", 22.3090, 114.1820),
    ("Hung Hom", "HHM", "Kowloon Central", 22.3030, 114.1820),
    ("To Kwa Wan", "TKW", "Kowloon Central", 22.3170, 114.1880),
    ("Kai Tak", "KTK", "Kowloon Central", 22.3300, 114.1990),
    ("Tsim Sha Tsui", "TST", "Kowloon West", 22.2970, 114.1720),
    ("Yau Ma Tei", "YMT", "Kowloon West", 22.3120, 114.1700),
    ("Mong Kok", "MKK", "Kowloon West", 22.3190, 114.1690),
    ("Sham Shui Po", "SSP", "Kowloon West", 22.3310, 114.1620),
    ("Cheung Sha Wan", "CSW", "Kowloon West", 22.3350, 114.1560),
    ("Lai Chi Kok", "LCK", "Kowloon West", 22.3370, 114.1480),
    ("Kwai Chung", "KWC", "New Territories West", 22.3640, 114.1310),
    ("Tsing Yi", "TSY", "New Territories West", 22.3580, 114.1070),
    ("Tsuen Wan", "TSW", "New Territories West", 22.3710, 114.1140),
    ("Tuen Mun", "TMN", "New Territories West", 22.3910, 113.9770),
    ("Yuen Long", "YLG", "New Territories West", 22.4450, 114.0220),
    ("Tin Shui Wai", "TSW2", "New Territories West", 22.4580, 114.0030),
    ("Sha Tin", "STN", "New Territories East", 22.3820, 114.1880),
    ("Ma On Shan", "MOS", "New Territories East", 22.4250, 114.2320),
    ("Tai Po", "TPO", "New Territories East", 22.4500, 114.1640),
    ("Fanling", "FLN", "New Territories East", 22.4920, 114.1380),
    ("Tseung Kwan O", "TKO", "New Territories East", 22.3070, 114.2600),
    ("Tung Chung", "TCG", "Lantau", 22.2890, 113.9410),
]

_INDUSTRIAL = [
    "Data Centre",
    "Semiconductor Plant",
    "Water Treatment Works",
    "Printing Works",
    "Cold Storage",
    "Food Processing Plant",
    "Container Depot",
    "Steel Fabrication Works",
    "Pharmaceutical Plant",
    "Bottling Plant",
    "Textile Mill",
    "Electronics Factory",
    "Sewage Pumping Station",
    "Bakery Factory",
    "Logistics Centre",
    "Laundry Works",
]
_COMMERCIAL = [
    "Plaza",
    "Shopping Centre",
    "Hotel",
    "Office Tower",
    "Hospital",
    "Bank Centre",
    "Telephone Exchange",
    "MTR Station",
    "Supermarket",
    "Cinema",
    "Trade Centre",
    "Medical Centre",
    "Convention Hall",
    "Department Store",
    "Sports Centre",
    "Bus Depot",
]
_RESIDENTIAL = ["Estate", "Court", "Garden", "Mansion", "Terrace", "Heights", "Villa", "Towers"]
_ESTATE_WORDS = [
    "Lok Fu",
    "Wah Fu",
    "Choi Hung",
    "Ping Shek",
    "Tak Tin",
    "Shun Lee",
    "Sau Mau Ping",
    "Lei Muk Shue",
    "Fu Shin",
    "Kwong Ming",
    "On Ting",
    "Yat Tung",
    "Kin Sang",
    "Wo Che",
    "Hin Keng",
    "Tai Hing",
    "Lung Hang",
    "Cheung Hong",
    "Kai Yip",
    "Oi Man",
]
_STREETS = [
    "Hoi Bun Road",
    "Wai Yip Street",
    "Hung To Road",
    "Kwun Tong Road",
    "Nathan Road",
    "Castle Peak Road",
    "Tai Po Road",
    "Canton Road",
    "Prince Edward Road",
    "Waterloo Road",
    "Lai Chi Kok Road",
    "Tsing Yi Road",
    "Sha Tin Wai Road",
    "Po Yap Road",
    "Chatham Road",
]

_EVENT_TYPES = (
    ("voltage_dip", 0.60),
    ("voltage_swell", 0.09),
    ("harmonic", 0.08),
    ("interruption", 0.07),
    ("transient", 0.11),
    ("flicker", 0.05),
)
_SEVERITIES = (("low", 0.45), ("medium", 0.30), ("high", 0.18), ("critical", 0.07))
_REMAINING_BY_SEVERITY = {
    "critical": (5, 40),
    "high": (40, 60),
    "medium": (60, 75),
    "low": (75, 90),
}

_DEMO_TABLES = (
    "pq_events",
    "customer_transformer_matching",
    "customers",
    "pq_meters",
    "substation_circuits",  # no id of its own: the rows of the demo substations
    "substations",
)  # demo profiles are reset in place, not deleted (see demo_profile_id)


class DemoDataRefused(Exception):
    """demo-data will not run; the message says what it found and what to do."""


@dataclass(frozen=True)
class DemoSummary:
    """What one demo-data run created (and, with --force, removed first)."""

    substations: int
    circuits: int
    customers: int
    mappings: int
    inactive_mappings: int
    events: int
    impacts: int
    users: tuple[str, ...]
    skipped_users: tuple[str, ...] = ()
    replaced_rows: int = 0
    seconds: float = 0.0
    as_of: date | None = None
    removed: dict = field(default_factory=dict)


def _counts(conn: Connection) -> dict[str, int]:
    return dict(
        conn.execute(
            sa.text(
                "SELECT 'substations', count(*) FROM public.substations UNION ALL "
                "SELECT 'customers', count(*) FROM public.customers UNION ALL "
                "SELECT 'mappings', count(*) FROM public.customer_transformer_matching UNION ALL "
                "SELECT 'events', count(*) FROM public.pq_events"
            )
        ).all()
    )


# Tables that may hold rows on a database nobody has used yet (settings a migration fills).
_NOT_DATA = frozenset({"ctm_settings"})


def database_is_empty(engine: Engine) -> bool:
    """True only for an entirely unused database: no row in any table of `public` (reference data,
    events, mappings, profiles — whatever later migrations add) and no login. The app's first start
    fills only such a database with the demo, so a demo admin never appears beside real users."""
    with owner_transaction(engine) as conn:
        tables = (
            conn.execute(
                sa.text(
                    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class AS c"
                    " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                    " AND NOT EXISTS (SELECT 1 FROM pg_depend AS d"
                    "                 WHERE d.objid = c.oid AND d.deptype = 'e')"
                    " AND NOT c.relname = ANY(:skip)"
                ),
                {"skip": sorted(_NOT_DATA)},
            )
            .scalars()
            .all()
        )
        tables = [*tables, "ctm_private.user_credentials"]
        probe = " OR ".join(f"EXISTS (SELECT 1 FROM {t})" for t in tables)
        return not conn.scalar(sa.text(f"SELECT {probe}"))


def _describe_counts(counts: dict[str, int]) -> str:
    parts = [f"{n:,} {what}" for what, n in counts.items() if n]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


# Generation --------------------------------------------------------------------------------------


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p[0] for p in pairs], cum_weights=_cumulative(pairs))[0]


@functools.cache
def _cumulative(pairs: tuple[tuple[str, float], ...]) -> list[float]:
    return list(itertools.accumulate(p[1] for p in pairs))


def demo_profile_id(username: str) -> uuid.UUID:
    """The same for every seed: --force with another seed keeps the demo users' profiles (rows
    outside the demo data may name them as editor), it only resets them."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://ctm.invalid/demo-data/profile/{username}")


class _Ids:
    """Deterministic UUIDs: the same seed and the same key give the same id."""

    def __init__(self, seed: int):
        self._ns = uuid.uuid5(uuid.NAMESPACE_URL, f"https://ctm.invalid/demo-data/{seed}")

    def __call__(self, kind: str, key: object) -> uuid.UUID:
        return uuid.uuid5(self._ns, f"{kind}:{key}")


@dataclass
class _Grid:
    substations: list[tuple]
    circuits: list[tuple[int, str]]  # (substation index, circuit id)
    customers: list[tuple]
    mappings: list[tuple]
    events: list[tuple]
    demo_profile_ids: dict[str, uuid.UUID]
    registry: list[tuple] = field(
        default_factory=list
    )  # (substation id, circuit, description, served)
    meters: list[tuple] = field(default_factory=list)  # pq_meters rows


def _generate(seed: int, as_of: date) -> _Grid:
    rng = random.Random(seed)
    ids = _Ids(seed)
    epoch = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    profile_ids = {u[0]: demo_profile_id(u[0]) for u in DEMO_USERS}

    # Substations: a 132 kV backbone, 33 kV zone substations and 11 kV distribution ones.
    places = rng.sample(_PLACES, SUBSTATIONS)
    substations = []
    for i, (name, code, region, lat, lon) in enumerate(places):
        voltage = "132kV" if i < 6 else ("33kV" if i < 16 else "11kV")
        status = "maintenance" if i == SUBSTATIONS - 1 else "operational"
        created = epoch - timedelta(days=900 + 7 * i)
        substations.append(
            (
                ids("substation", code),
                name,
                code,
                voltage,
                region,
                round(lat + rng.uniform(-0.004, 0.004), 6),
                round(lon + rng.uniform(-0.004, 0.004), 6),
                status,
                created,
            )
        )

    # 300 circuits H1..Hn within each substation; bigger substations feed more circuits.
    weights = [rng.uniform(0.5, 1.5) * (1.6 if s[3] == "132kV" else 1.0) for s in substations]
    per_sub = [max(3, round(CIRCUITS * w / sum(weights))) for w in weights]
    while sum(per_sub) > CIRCUITS:
        per_sub[per_sub.index(max(per_sub))] -= 1
    while sum(per_sub) < CIRCUITS:
        per_sub[per_sub.index(min(per_sub))] += 1
    circuits = [(s, f"H{n}") for s, count in enumerate(per_sub) for n in range(1, count + 1)]

    # Customers of mixed types; account numbers AC-100000.. in shuffled order.
    accounts = list(range(100000, 100000 + CUSTOMERS * 3))
    rng.shuffle(accounts)
    customers = []
    used_names: dict[str, int] = {}
    for i in range(CUSTOMERS):
        kind = rng.choices(["industrial", "commercial", "residential"], [0.3, 0.4, 0.3])[0]
        s = rng.randrange(SUBSTATIONS)
        district = substations[s][1]
        if kind == "industrial":
            name = f"{district} {rng.choice(_INDUSTRIAL)}"
            kva = rng.randrange(500, 8000, 50)
        elif kind == "commercial":
            name = f"{district} {rng.choice(_COMMERCIAL)}"
            kva = rng.randrange(100, 3000, 25)
        else:
            name = f"{rng.choice(_ESTATE_WORDS)} {rng.choice(_RESIDENTIAL)}"
            kva = rng.randrange(50, 500, 5)
        seen = used_names.get(name, 0)
        used_names[name] = seen + 1
        if seen:
            name = f"{name} {'Block' if kind == 'residential' else 'No.'} {seen + 1}"
        address = f"{rng.randrange(1, 300)} {rng.choice(_STREETS)}, {district}"
        created = epoch - timedelta(days=rng.randrange(400, 3000), minutes=rng.randrange(1440))
        customers.append(
            [
                ids("customer", i),
                f"AC-{accounts[i]}",
                name,
                address,
                substations[s][0],
                kva,
                kind,
                False,
                created,
                s,
            ]
        )

    # Mappings: most customers on one circuit of their own substation, some dual-fed, a blind
    # spot or so per substation (circuits with events but no mapped customer), ~5 % inactive.
    by_sub: dict[int, list[str]] = {}
    for s, c in circuits:
        by_sub.setdefault(s, []).append(c)
    mapped_circuits = {
        s: cs if len(cs) < 4 else rng.sample(cs, max(3, round(len(cs) * 0.85)))
        for s, cs in by_sub.items()
    }
    order = list(range(CUSTOMERS))
    rng.shuffle(order)
    editors = [profile_ids["admin"], profile_ids["operator"]]
    mappings: list[tuple] = []
    active_keys: set[tuple[int, int, str]] = set()
    inactive_target = round(MAPPINGS * INACTIVE_SHARE)
    primary = order[: MAPPINGS - 220]
    dual = order[:220]  # a second feed for some already-mapped customers
    plan = [(c, False) for c in primary] + [(c, True) for c in dual]
    inactive_slots = set(rng.sample(range(len(plan)), inactive_target))
    for n, (c, second) in enumerate(plan):
        s = customers[c][9]
        if second:
            s = rng.randrange(SUBSTATIONS) if rng.random() < 0.5 else s
        choices = mapped_circuits[s]
        circuit = rng.choice(choices)
        while (c, s, circuit) in active_keys and len(choices) > 1:
            circuit = rng.choice(choices)
        active = n not in inactive_slots and (c, s, circuit) not in active_keys
        if active:
            active_keys.add((c, s, circuit))
            customers[c][7] = True  # every mapped customer is a critical customer
        created = epoch - timedelta(days=rng.randrange(30, 700), minutes=rng.randrange(1440))
        updated = created + timedelta(days=rng.randrange(0, 29), minutes=rng.randrange(1440))
        mappings.append(
            (
                ids("mapping", n),
                customers[c][0],
                substations[s][0],
                circuit,
                active,
                created,
                updated,
                rng.choice(editors),
            )
        )

    mappings = _with_periods(mappings)

    # Events over the last 365 days: storms bunch events on a few days in one region.
    storm_days = [rng.randrange(1, 365) for _ in range(12)]
    regions = sorted({s[4] for s in substations})
    storm_region = {d: rng.choice(regions) for d in storm_days}
    circuit_weight = [rng.lognormvariate(0, 0.8) for _ in circuits]
    circuit_index = range(len(circuits))
    circuit_cumulative = list(itertools.accumulate(circuit_weight))
    circuit_by_region: dict[str, list[int]] = {}
    for k, (s, _) in enumerate(circuits):
        circuit_by_region.setdefault(substations[s][4], []).append(k)
    events = []
    for i in range(EVENTS):
        if rng.random() < 0.15:
            day = rng.choice(storm_days)
            k = rng.choice(circuit_by_region[storm_region[day]])
            at = epoch - timedelta(days=day, seconds=rng.randrange(6 * 3600))
        else:
            k = rng.choices(circuit_index, cum_weights=circuit_cumulative)[0]
            at = epoch - timedelta(seconds=rng.randrange(1, 365 * 86400))
        at = at.replace(microsecond=rng.randrange(0, 1000) * 1000)
        s, circuit = circuits[k]
        kind = _weighted(rng, _EVENT_TYPES)
        severity = _weighted(rng, _SEVERITIES)
        if kind == "interruption":
            duration = rng.lognormvariate(math.log(45_000), 1.4)
            lo = 1_000
        else:
            duration = rng.lognormvariate(math.log(120), 1.3)
            lo = 20
        duration = int(min(600_000, max(lo, duration)))
        lo_v, hi_v = _REMAINING_BY_SEVERITY[severity]
        if kind == "voltage_dip":
            remaining = rng.uniform(lo_v, hi_v)
            magnitude = remaining
        elif kind == "interruption":
            remaining = rng.uniform(0, 5)
            magnitude = remaining
        elif kind == "voltage_swell":
            magnitude = rng.uniform(110, 110 + (100 - lo_v) * 0.4)
            remaining = magnitude
        elif kind == "harmonic":
            magnitude = rng.uniform(3, 5 + (100 - hi_v) / 5)  # THD %
            remaining = rng.uniform(97, 100)
        elif kind == "transient":
            magnitude = rng.uniform(120, 140 + (100 - lo_v) * 1.2)  # peak % of nominal
            remaining = rng.uniform(95, 100)
        else:
            magnitude = rng.uniform(0.8, 1.0 + (100 - lo_v) / 40)  # Pst
            remaining = rng.uniform(96, 100)
        age_days = (epoch - at).days
        if age_days < 14:
            status = rng.choices(
                ["new", "acknowledged", "investigating", "resolved"], [0.55, 0.2, 0.15, 0.1]
            )[0]
        else:
            status = rng.choices(
                ["resolved", "acknowledged", "investigating", "false", "new"],
                [0.7, 0.12, 0.06, 0.07, 0.05],
            )[0]
        sub = substations[s]
        events.append(
            (
                ids("event", i),
                kind,
                sub[0],
                _meter_name(sub[3], sub[2], k + 1, circuit),
                at,
                duration,
                round(magnitude, 3),
                severity,
                status,
                circuit,
                sub[3] if rng.random() < 0.3 else "11kV",
                round(remaining, 2),
                at + timedelta(seconds=rng.randrange(2, 120)),
            )
        )
    registry, meters = _registry_and_meters(seed, ids, substations, circuits, mappings)
    return _Grid(substations, circuits, customers, mappings, events, profile_ids, registry, meters)


_FEEDS = [
    "residential tower block",
    "shopping arcade",
    "industrial building",
    "street lighting",
    "hospital wing",
    "MTR entrance",
    "school",
    "water pumping station",
    "office tower",
    "data hall",
    "car park",
    "market",
]


def _meter_name(voltage: str, code: str, number: int, circuit: str) -> str:
    """Names as the monitoring system sends them, e.g. PQMS_11KV.APA0042_H3."""
    return f"PQMS_{voltage.upper()}.{code}{number:04d}_{circuit}"


def _registry_and_meters(
    seed: int, ids: _Ids, substations: list[tuple], circuits: list[tuple], mappings: list[tuple]
) -> tuple[list[tuple], list[tuple]]:
    """Every circuit described, with the customers behind it (always at least its mapped ones),
    and one PQ meter per circuit named the way events name it. A separate generator keeps the
    rest of the demo grid exactly as before for a given seed."""
    rng = random.Random(seed * 7919 + 1)
    mapped: dict[tuple, int] = {}
    for m in mappings:
        if m[4]:
            mapped[(m[2], m[3])] = mapped.get((m[2], m[3]), 0) + 1
    registry, meters = [], []
    for number, (s, circuit) in enumerate(circuits, start=1):
        sub = substations[s]
        served = max(mapped.get((sub[0], circuit), 0), rng.randrange(40, 2500, 10))
        description = f"{sub[3]} feeder {circuit} — {rng.choice(_FEEDS)}, {sub[1]}"
        registry.append((sub[0], circuit, description, served))
        meters.append(
            (
                ids("meter", (s, circuit)),
                _meter_name(sub[3], sub[2], number, circuit),
                sub[0],
                circuit,
                sub[3],
                f"{sub[2]}-S{number:03d}",
                f"{sub[1]} substation, {circuit} panel",
            )
        )
    return registry, meters


# Loading -----------------------------------------------------------------------------------------


def _with_periods(mappings: list[tuple]) -> list[tuple]:
    """Validity periods the database accepts (DESIGN.md "Mapping validity"): an inactive mapping
    ended on the day it was last changed; periods of one customer and circuit follow each other
    (each starts where the previous ended, an active one after the last ended). Appends
    (connected_since, disconnected_on) to each row."""
    by_key: dict[tuple, list[int]] = {}
    for n, m in enumerate(mappings):
        by_key.setdefault((m[1], m[2], m[3]), []).append(n)
    periods: dict[int, tuple] = {}
    for rows in by_key.values():
        ended = sorted((n for n in rows if not mappings[n][4]), key=lambda n: mappings[n][6])
        start = None
        for n in ended:
            end = mappings[n][6].date()
            if start is not None and start >= end:
                periods[n] = (None, None)  # same day as its predecessor: no period of its own
                continue
            periods[n] = (start, end)
            start = end
        for n in rows:
            if mappings[n][4]:
                periods[n] = (start, None)
    return [m + periods[n] for n, m in enumerate(mappings)]


def _copy(raw_cursor, table: str, columns: str, rows: Iterable[Iterable]) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_copy_value(v) for v in row))
        buf.write("\n")
    buf.seek(0)
    raw_cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buf)


def _copy_value(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


# Rows an earlier demo-data created are about to be deleted, so they cannot clash.
_NOT_DEMO = (
    "NOT EXISTS (SELECT 1 FROM ctm_private.demo_rows AS d"
    " WHERE d.table_name = 'substations' AND d.id = s.id)"
)


def _check_replaceable(conn: Connection, grid: _Grid) -> None:
    """Refuse --force when rows demo-data did not create depend on demo rows or clash with them."""
    problems = []
    checks = {
        "mappings not made by demo-data use demo substations or customers": """
            SELECT count(*) FROM public.customer_transformer_matching AS m
            WHERE NOT EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                              WHERE d.table_name = 'customer_transformer_matching' AND d.id = m.id)
              AND EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                          WHERE (d.table_name = 'substations' AND d.id = m.substation_id)
                             OR (d.table_name = 'customers' AND d.id = m.customer_id))""",
        "events not made by demo-data are on demo substations": """
            SELECT count(*) FROM public.pq_events AS e
            WHERE NOT EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                              WHERE d.table_name = 'pq_events' AND d.id = e.id)
              AND EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                          WHERE d.table_name = 'substations' AND d.id = e.substation_id)""",
        "meters not made by demo-data are on demo substations": """
            SELECT count(*) FROM public.pq_meters AS p
            WHERE NOT EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                              WHERE d.table_name = 'pq_meters' AND d.id = p.id)
              AND EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                          WHERE d.table_name = 'substations' AND d.id = p.substation_id)""",
        "customers not made by demo-data belong to demo substations": """
            SELECT count(*) FROM public.customers AS c
            WHERE NOT EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                              WHERE d.table_name = 'customers' AND d.id = c.id)
              AND EXISTS (SELECT 1 FROM ctm_private.demo_rows d
                          WHERE d.table_name = 'substations' AND d.id = c.substation_id)""",
    }
    for what, sql in checks.items():
        if n := conn.scalar(sa.text(sql)):
            problems.append(f"{n:,} {what}")
    clash_codes = conn.scalars(
        sa.text(
            "SELECT code FROM public.substations AS s WHERE code = ANY(:codes) AND "
            + _NOT_DEMO
            + " ORDER BY code LIMIT 5"
        ),
        {"codes": [s[2] for s in grid.substations]},
    ).all()
    if clash_codes:
        problems.append(f"substation codes {', '.join(clash_codes)} are taken by other substations")
    clash_accounts = conn.scalars(
        sa.text(
            "SELECT account_number FROM public.customers AS s"
            " WHERE account_number = ANY(:a) AND "
            + _NOT_DEMO.replace("substations", "customers")
            + " ORDER BY 1 LIMIT 5"
        ),
        {"a": [c[1] for c in grid.customers]},
    ).all()
    if clash_accounts:
        problems.append(f"account numbers {', '.join(clash_accounts)} are taken by other customers")
    if problems:
        raise DemoDataRefused(
            "cannot load the demo data without touching rows it did not create: "
            + "; ".join(problems)
            + ". Remove or change those rows first, or use an empty database."
        )


def _remove_demo_rows(conn: Connection) -> dict[str, int]:
    removed = {}
    for table in _DEMO_TABLES:
        if table == "substation_circuits":
            result = conn.execute(
                sa.text(
                    "DELETE FROM public.substation_circuits AS t USING ctm_private.demo_rows AS d"
                    " WHERE d.table_name = 'substations' AND d.id = t.substation_id"
                )
            )
        else:
            result = conn.execute(
                sa.text(
                    f"DELETE FROM public.{table} AS t USING ctm_private.demo_rows AS d"
                    " WHERE d.table_name = :t AND d.id = t.id"
                ),
                {"t": table},
            )
        removed[table] = result.rowcount
    conn.execute(sa.text("DELETE FROM ctm_private.demo_rows WHERE table_name <> 'profiles'"))
    return removed


def load_demo_data(
    engine: Engine,
    *,
    seed: int = 42,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    as_of: date | None = None,
) -> DemoSummary:
    """Fill the database with the demo grid in one transaction (all or nothing).

    Refuses (DemoDataRefused) when substations, customers, mappings or events exist, unless
    `force`: then it first deletes exactly the rows an earlier demo-data recorded and keeps the
    rest. Same seed and same `as_of` (default: today, UTC) → identical rows."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    as_of = as_of or datetime.now(UTC).date()
    say("generating the demo grid")
    grid = _generate(seed, as_of)
    with owner_transaction(engine) as conn:
        # One demo-data at a time: a second concurrent run waits here, then sees the first's rows.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7299861350)"))
        counts = _counts(conn)
        removed: dict[str, int] = {}
        if any(counts.values()):
            if not force:
                raise DemoDataRefused(
                    f"the database already holds {_describe_counts(counts)}; "
                    "use --force to replace the rows an earlier demo-data created "
                    "(rows it did not create are kept)"
                )
            _check_replaceable(conn, grid)
            say("removing the previous demo rows")
            removed = _remove_demo_rows(conn)
        users, skipped = _load_users(conn, grid, say)
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        say(f"loading {len(grid.substations)} substations and {len(grid.customers):,} customers")
        _copy(
            cur,
            "public.substations",
            "id, name, code, voltage_level, region, latitude, longitude, status, created_at",
            grid.substations,
        )
        _copy(
            cur,
            "public.customers",
            "id, account_number, name, address, substation_id, contract_demand_kva,"
            " customer_type, critical_customer, created_at",
            (c[:9] for c in grid.customers),
        )
        say(f"loading {len(grid.registry)} circuits and {len(grid.meters)} meters")
        _copy(
            cur,
            "public.substation_circuits",
            "substation_id, circuit_id, description, customers_served",
            grid.registry,
        )
        _copy(
            cur,
            "public.pq_meters",
            "id, meter_id, substation_id, circuit_id, voltage_level, site_id, location",
            grid.meters,
        )
        say(f"loading {len(grid.mappings):,} mappings")
        present = set(users)
        _copy(
            cur,
            "public.customer_transformer_matching",
            "id, customer_id, substation_id, circuit_id, active, created_at, updated_at,"
            " updated_by, connected_since, disconnected_on",
            (
                m[:7] + ((m[7] if _owner(grid, m[7]) in present else None),) + m[8:10]
                for m in grid.mappings
            ),
        )
        say(f"loading {len(grid.events):,} events (the trigger creates their impacts)")
        _copy(
            cur,
            "public.pq_events",
            "id, event_type, substation_id, meter_id, timestamp, duration_ms, magnitude,"
            " severity, status, circuit_id, voltage_level, remaining_voltage, created_at",
            grid.events,
        )
        demo_rows = (
            [("substations", s[0]) for s in grid.substations]
            + [("customers", c[0]) for c in grid.customers]
            + [("pq_meters", m[0]) for m in grid.meters]
            + [("customer_transformer_matching", m[0]) for m in grid.mappings]
            + [("pq_events", e[0]) for e in grid.events]
        )
        _copy(cur, "ctm_private.demo_rows", "table_name, id", demo_rows)
        impacts = conn.scalar(
            sa.text(
                "SELECT count(*) FROM public.event_customer_impact AS i"
                " JOIN ctm_private.demo_rows AS d ON d.table_name = 'pq_events' AND d.id = i.event_id"
            )
        )
        for table in (
            "substations",
            "substation_circuits",
            "pq_meters",
            "customers",
            "customer_transformer_matching",
            "pq_events",
            "event_customer_impact",
        ):
            conn.execute(sa.text(f"ANALYZE public.{table}"))
    return DemoSummary(
        substations=len(grid.substations),
        circuits=len(grid.circuits),
        customers=len(grid.customers),
        mappings=len(grid.mappings),
        inactive_mappings=sum(1 for m in grid.mappings if not m[4]),
        events=len(grid.events),
        impacts=impacts,
        users=tuple(users),
        skipped_users=tuple(skipped),
        replaced_rows=sum(removed.values()),
        seconds=time.perf_counter() - started,
        as_of=as_of,
        removed=removed,
    )


def _owner(grid: _Grid, profile_id: uuid.UUID) -> str:
    return next(u for u, pid in grid.demo_profile_ids.items() if pid == profile_id)


def _load_users(conn: Connection, grid: _Grid, say: Callable[[str], None]):
    """Create the demo logins whose usernames are free, reset the ones an earlier demo-data made
    (role, name, password) and leave a same-named real user alone."""
    say("creating the demo users admin, operator and viewer")
    existing = dict(
        conn.execute(
            sa.text(
                "SELECT c.username, EXISTS (SELECT 1 FROM ctm_private.demo_rows AS d"
                "  WHERE d.table_name = 'profiles' AND d.id = c.profile_id)"
                " FROM ctm_private.user_credentials AS c WHERE c.username = ANY(:u)"
            ),
            {"u": [u[0] for u in DEMO_USERS]},
        ).all()
    )
    created, skipped = [], []
    for username, password, role, full_name in DEMO_USERS:
        email = f"{username}@demo.ctm.invalid"
        profile_id = grid.demo_profile_ids[username]
        # The login page shows these passwords: a cheaper cost hides nothing here.
        password_hash = hash_password(password, rounds=DEMO_BCRYPT_ROUNDS)
        if username in existing and not existing[username]:
            skipped.append(username)
            continue
        if username in existing:
            conn.execute(
                sa.text(
                    "UPDATE public.profiles SET role = :r, full_name = :n, email = :e"
                    " WHERE id = (SELECT profile_id FROM ctm_private.user_credentials"
                    "             WHERE username = :u)"
                ),
                {"r": role, "n": full_name, "e": email, "u": username},
            )
            conn.execute(
                sa.text(
                    "UPDATE ctm_private.user_credentials SET password_hash = :h WHERE username = :u"
                ),
                {"h": password_hash, "u": username},
            )
        else:
            # A demo profile whose login was removed by hand: it is a demo row, make it anew.
            conn.execute(
                sa.text(
                    "DELETE FROM public.profiles AS p USING ctm_private.demo_rows AS d"
                    " WHERE d.table_name = 'profiles' AND d.id = p.id AND p.id = :id"
                ),
                {"id": profile_id},
            )
            add_user_in(conn, username, role, password_hash, full_name, email, user_id=profile_id)
            conn.execute(
                sa.text(
                    "INSERT INTO ctm_private.demo_rows (table_name, id) VALUES ('profiles', :id)"
                    " ON CONFLICT DO NOTHING"
                ),
                {"id": profile_id},
            )
        conn.execute(
            sa.text(
                "INSERT INTO ctm_private.demo_users (username, password) VALUES (:u, :p)"
                " ON CONFLICT (username) DO UPDATE SET password = EXCLUDED.password"
            ),
            {"u": username, "p": password},
        )
        created.append(username)
    return created, skipped
