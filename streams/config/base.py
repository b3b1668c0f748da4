"""What every configuration section is built on: a model that rejects unknown keys, and the
shared field types."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from streams.config.timerange import check_range

TimeRange = Annotated[str, AfterValidator(check_range)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Point = Annotated[list[float], Field(min_length=2, max_length=2)]


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
