"""The ``site:`` section: the district, its timezone, its clock tolerance and its working hours."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from streams.config.timerange import check_range, check_working_hours, working_hours_list

WorkingHours = Annotated[
    list[Annotated[str, AfterValidator(check_range)]],
    BeforeValidator(working_hours_list),
    AfterValidator(check_working_hours),
]


class Site(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="District or street office running the command centre")
    timezone: str = Field(
        "Asia/Shanghai", description="IANA timezone for active hours, quiet hours and working hours"
    )
    max_clock_skew_s: float = Field(
        300,
        gt=0,
        description="An input whose event time is more than this many seconds ahead of the receiving "
        "process's wall clock is refused (dead-lettered; HTTP 400)",
    )
    working_hours: WorkingHours | None = Field(
        None,
        description="Local working hours of a working day, e.g. ['08:30-12:00', '14:30-18:00']: SLAs on "
        "the working clock (a category's sla_clock) count only these, on the working days of the "
        "Chinese calendar (holidays off, make-up working days on). Default: the whole day, every day "
        "(the working clock is then the wall clock)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as 'Asia/Shanghai'"
            ) from None
        return value
