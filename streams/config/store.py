"""The ``store:`` section of cameras.yaml: where the case record lives."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_URL = "sqlite:///var/citywatch.db"


class Store(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        DEFAULT_URL,
        min_length=1,
        description="SQLAlchemy URL of the case record: sqlite:///PATH, postgresql+psycopg://USER@HOST/DB "
        "or mysql+pymysql://USER@HOST/DB (overridden by --db and CITYWATCH_DB)",
    )
    retention_days: float | None = Field(
        None,
        gt=0,
        description="Days the case record keeps an incident after it closed (then its events, evidence "
        "rows and "
        "files go; incident_daily keeps its counts); unset: forever",
    )
