"""Access to the command centre: tokens with roles, browser sessions, CSRF (pure).

Roles:

    viewer            reads the board, incidents, evidence, metrics
    operator          viewer + broadcasts and incident actions
    patrol:UNIT       its own unit's cases (read, accept / arrived / resolved)
    admin             everything, every unit
    ingest            sensor gateways: POST /api/sensor-readings only (no browser sessions)
    integration       the city's case system: POST /api/integrations/case-system/callback only
    viewer:street:ID  a viewer of street ID's grids only (streets: in cameras.yaml)
    operator:street:ID  an operator of street ID's grids only
    dept:ID           an operator of department ID's categories, across the district

A scoped principal carries its ``Scope`` (the grids or categories it covers); what it may
see and act on is decided by the pure functions of streams/web/scope.py.

Tokens come from ``web.tokens_file`` and ``CITYWATCH_TOKENS``, both written as
``TOKEN=ROLE`` (optionally ``TOKEN=ROLE@NAME``), one per line or comma-separated.
A token is looked up by comparing its digest against every known digest in
constant time, so the time taken does not tell how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from streams.contract.errors import WebError

ROLES = ("viewer", "operator", "admin")
PATROL = "patrol:"
STREET = "street:"  # viewer:street:ID, operator:street:ID
DEPT = "dept:"
INGEST = "ingest"  # sensor gateways: POST /api/sensor-readings only
INTEGRATION = "integration"  # the city's case system: its callback only
MIN_TOKEN_LEN = 8
MAX_SESSIONS = 10_000
MAX_SESSIONS_PER_TOKEN = 20
PAGE_ROLES = frozenset({*ROLES, "patrol"})  # roles with pages; an ingest token is for its route only
LOGIN_WINDOW_S = 60.0
MAX_LOGIN_CLIENTS = 10_000


@dataclass(frozen=True)
class Scope:
    """What a street- or department-scoped token covers: a street's grids (and the units of
    those grids and of its office), or a department's categories (and its unit)."""

    kind: str  # street | dept
    id: str
    grids: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()

    def describe(self) -> str:
        return f"street {self.id}" if self.kind == "street" else f"department {self.id}"


@dataclass(frozen=True)
class Scopes:
    """The streets and departments a token may be scoped to, by id (from the configuration)."""

    streets: Mapping[str, Scope] = field(default_factory=dict)
    departments: Mapping[str, Scope] = field(default_factory=dict)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a display name, a role, (for patrol) the unit, and (for a scoped token)
    its scope."""

    name: str
    role: str  # viewer | operator | admin | patrol | ingest | integration
    unit: str | None = None
    key: str = field(default="", compare=False)  # which token (a digest prefix): caps count per token
    scope: Scope | None = None

    def sees_grid(self, grid_id: str | None) -> bool:
        """A reader whose scope covers the grid (a department's scope covers every grid)."""
        if not self.can_read:
            return False
        if self.scope is None or self.scope.kind == "dept":
            return True
        return grid_id is not None and grid_id in self.scope.grids

    def sees_category(self, key: str | None) -> bool:
        """A reader whose scope covers the category (a street's scope covers every category)."""
        if not self.can_read:
            return False
        if self.scope is None or self.scope.kind == "street":
            return True
        return key is not None and key in self.scope.categories

    def sees(self, item: Mapping[str, object]) -> bool:
        """A reader whose scope covers this incident, case or report row (its grid and its
        category, as the board or the case record writes them)."""
        return self.sees_grid(grid_of(item)) and self.sees_category(category_of(item))

    def can_operate_on(self, item: Mapping[str, object]) -> bool:
        """Act on this incident: an operator whose scope covers it."""
        return self.can_operate and self.sees(item)

    @property
    def can_read(self) -> bool:
        """Read the district's board (incidents, evidence, broadcasts, metrics)."""
        return self.role in ROLES

    @property
    def can_operate(self) -> bool:
        """Send broadcasts and act on incidents."""
        return self.role in ("operator", "admin")

    @property
    def can_ingest(self) -> bool:
        """Post sensor readings (a gateway's ``ingest`` token, or an admin)."""
        return self.role in (INGEST, "admin")

    @property
    def can_call_back(self) -> bool:
        """Report a case's status from the city's case system (its ``integration`` token only)."""
        return self.role == INTEGRATION

    def can_patrol(self, unit_id: str | None) -> bool:
        """Report on cases of ``unit_id`` (its own patrol, or an admin)."""
        return self.role == "admin" or (
            self.role == "patrol" and unit_id is not None and self.unit == unit_id
        )

    def can_see_unit(self, unit_id: str) -> bool:
        if self.scope is not None:
            return self.can_read and unit_id in self.scope.units
        return self.can_read or self.can_patrol(unit_id)

    @property
    def can_log_in(self) -> bool:
        """Open a browser session: only roles that have pages."""
        return self.role in PAGE_ROLES

    def describe(self) -> str:
        if self.scope is not None:
            return (
                f"dept:{self.scope.id}"
                if self.scope.kind == "dept"
                else f"{self.role}:street:{self.scope.id}"
            )
        return f"patrol:{self.unit}" if self.role == "patrol" else self.role


def grid_of(item: Mapping[str, object]) -> str | None:
    """The grid an incident (board: ``location.grid_id``), case or report row (``grid_id``) is in."""
    grid = item.get("grid_id")
    if grid is None:
        location = item.get("location")
        grid = location.get("grid_id") if isinstance(location, Mapping) else None
    return str(grid) if grid else None


def category_of(item: Mapping[str, object]) -> str | None:
    """The category key of an incident (board: ``category.key``) or report row (``category``)."""
    category = item.get("category")
    if isinstance(category, Mapping):
        category = category.get("key")
    return str(category) if category else None


def _scoped(kind: str, ident: str, known: Mapping[str, Scope], section: str) -> Scope:
    if not ident:
        raise ValueError(
            f"a {kind} role needs an id: write {'dept:ID' if kind == 'dept' else 'ROLE:street:ID'}"
        )
    if ident not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise ValueError(f"{kind} {ident!r} is not under {section}: in the configuration (known: {listed})")
    return known[ident]


def parse_scoped(text: str, scopes: Scopes | None = None) -> tuple[str, Scope] | None:
    """``viewer:street:heping`` -> ("viewer", its Scope); ``dept:sanitation`` -> ("operator",
    its Scope); None for a role without a scope. ValueError naming the known ids."""
    role = text.strip()
    known = scopes or Scopes()
    if role.startswith(DEPT):
        return "operator", _scoped("department", role[len(DEPT) :].strip(), known.departments, "departments")
    base, sep, rest = role.partition(":")
    if sep and base in ("viewer", "operator") and rest.startswith(STREET):
        return base, _scoped("street", rest[len(STREET) :].strip(), known.streets, "streets")
    return None


def parse_role(text: str, units: Iterable[str] | None = None) -> tuple[str, str | None]:
    """``viewer`` -> ("viewer", None); ``patrol:unit-a`` -> ("patrol", "unit-a")."""
    role = text.strip()
    if role in ROLES or role in (INGEST, INTEGRATION):
        return role, None
    if role.startswith(PATROL):
        unit = role[len(PATROL) :].strip()
        if not unit:
            raise ValueError("patrol role needs a unit: write patrol:UNIT_ID")
        known = set(units) if units is not None else None
        if known is not None and unit not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise ValueError(f"unit {unit!r} is not under units: in the configuration (known: {listed})")
        return "patrol", unit
    raise ValueError(
        f"unknown role {role!r}; use viewer, operator, admin, ingest, integration, patrol:UNIT_ID, "
        "viewer:street:ID, operator:street:ID or dept:ID"
    )


def parse_tokens(
    text: str, source: str, units: Iterable[str] | None = None, scopes: Scopes | None = None
) -> list[tuple[str, Principal]]:
    """Parse ``TOKEN=ROLE[@NAME]`` entries (lines or commas; ``#`` starts a comment); scoped
    roles are looked up in ``scopes``."""
    unit_list = list(units) if units is not None else None
    out: list[tuple[str, Principal]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0]
        for item in body.split(","):
            entry = item.strip()
            if not entry:
                continue
            where = f"{source}:{lineno}" if source != "CITYWATCH_TOKENS" else source
            token, sep, rest = entry.partition("=")
            token = token.strip()
            if not sep or not token:
                raise WebError(f"{where}: {entry[:3]}…: write each token as TOKEN=ROLE")
            if len(token) < MIN_TOKEN_LEN:
                raise WebError(
                    f"{where}: a token is shorter than {MIN_TOKEN_LEN} characters: use a long random one "
                    "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
                )
            role_text, _, name = rest.partition("@")
            scope: Scope | None = None
            unit: str | None = None
            try:
                scoped = parse_scoped(role_text, scopes)
                if scoped is not None:
                    role, scope = scoped
                else:
                    role, unit = parse_role(role_text, unit_list)
            except ValueError as exc:
                raise WebError(f"{where}: {exc}") from None
            label = name.strip() or f"{role_text.strip()}-{_digest(token).hex()[:6]}"
            out.append((token, Principal(label, role, unit, token_key(token), scope)))
    return out


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_key(token: str) -> str:
    """A short, non-secret name of a token (a digest prefix), to count its sessions and streams."""
    return _digest(token).hex()[:16]


class TokenRegistry:
    """Known tokens, kept as digests; ``lookup`` compares against all of them in constant time."""

    def __init__(self, entries: Iterable[tuple[str, Principal]]) -> None:
        self._entries = [
            (_digest(token), who if who.key else replace(who, key=token_key(token))) for token, who in entries
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str | None) -> Principal | None:
        if not token:
            return None
        wanted = _digest(token)
        found: Principal | None = None
        for digest, who in self._entries:  # no early exit: every entry is compared
            if hmac.compare_digest(digest, wanted) and found is None:
                found = who
        return found


@dataclass
class Session:
    session_id: str
    csrf: str
    principal: Principal
    expires_at: float


class Sessions:
    """Browser sessions in memory: an opaque id in an HttpOnly cookie, a CSRF token beside it.

    At most ``max_sessions`` in all and ``per_token`` per token: a new login ends the oldest.
    """

    def __init__(
        self, ttl_s: float, max_sessions: int = MAX_SESSIONS, per_token: int = MAX_SESSIONS_PER_TOKEN
    ) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self.per_token = per_token
        self._by_id: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_id)

    def create(self, principal: Principal, now: float) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), principal, now + self.ttl_s)
        self._by_id[session.session_id] = session
        same = [sid for sid, s in self._by_id.items() if s.principal.key == principal.key]
        for sid in same[: max(0, len(same) - self.per_token)]:  # oldest first (insertion order)
            del self._by_id[sid]
        while len(self._by_id) > self.max_sessions:
            self._by_id.popitem(last=False)
        return session

    def count(self, principal: Principal) -> int:
        """Sessions of the token behind ``principal``."""
        return sum(1 for s in self._by_id.values() if s.principal.key == principal.key)

    def get(self, session_id: str | None, now: float) -> Session | None:
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if now >= session.expires_at:
            del self._by_id[session_id]
            return None
        return session

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(session_id, None)


class LoginLimiter:
    """Login attempts per client address: a bucket of ``per_min`` refilled over a minute (pure).

    At most ``max_clients`` addresses are remembered; the least recently seen is forgotten first.
    """

    def __init__(self, per_min: int, max_clients: int = MAX_LOGIN_CLIENTS) -> None:
        self.per_min = per_min
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, address: str, now: float) -> bool:
        """Take one attempt for ``address``; False when its bucket is empty."""
        tokens, at = self._buckets.pop(address, (float(self.per_min), now))
        tokens = min(float(self.per_min), tokens + max(0.0, now - at) * self.per_min / LOGIN_WINDOW_S)
        allowed = tokens >= 1.0
        self._buckets[address] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again."""
        tokens, _ = self._buckets.get(address, (1.0, 0.0))
        return max(1, int((1.0 - tokens) * LOGIN_WINDOW_S / self.per_min) + 1)


def csrf_ok(session: Session, presented: str | None) -> bool:
    """The request carries the session's CSRF token (header ``X-CSRF-Token``)."""
    return bool(presented) and hmac.compare_digest(session.csrf.encode(), (presented or "").encode())


def same_origin(origin: str | None, host: str | None) -> bool:
    """An ``Origin`` header, when sent, must name this server; no header passes (non-browser clients)."""
    if not origin:
        return True
    if origin == "null" or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()
