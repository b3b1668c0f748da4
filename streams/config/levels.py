"""The district's three levels in cameras.yaml: streets (街道) with their grids and street
office, and departments that own categories (环卫 sanitation, 园林 landscaping, 环保 environment).

Roles scoped to them (``viewer:street:ID``, ``operator:street:ID``, ``dept:ID``) are in
streams/web/auth.py; cross-references are checked in verify_levels.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from streams.config.base import Base, Id

# the order escalation climbs: a grid's patrol unit, its street office, the district
UnitLevel = Literal["street", "street_office", "district"]
LEVEL_RANK: dict[str, int] = {"street": 0, "street_office": 1, "district": 2}


class Street(Base):
    id: Id
    name: str = ""
    grids: list[str] = Field(
        default_factory=list, description="Grids of this street (街道); a grid belongs to one street only"
    )
    unit: str | None = Field(
        None,
        description="The street office's unit (level street_office): the grids' units escalate to it",
    )


class Department(Base):
    id: Id
    name: str = ""
    categories: list[str] = Field(
        default_factory=list, description="Category keys this department owns across the district"
    )
    unit: str | None = Field(None, description="The department's own unit, if it has one")
