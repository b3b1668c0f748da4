"""The ``case_system:`` section of cameras.yaml: the city's case system (数字城管, GB/T 30428)
that ``citywatch casesync`` pushes dispatched cases to.

    case_system:
      url: https://szcg.example.gov.cn/api/cases
      token_env: SZCG_TOKEN            # Authorization: Bearer $SZCG_TOKEN
      # basic: {user_env: SZCG_USER, password_env: SZCG_PASSWORD}   (instead of token_env)
      source: 智能视频发现              # 问题来源
      case_prefix: CW-                 # 案件编号 = CW-<case_id>
      categories:                      # GB/T 30428 code -> 大类 / 小类 names
        "200504": {major: 街面秩序, minor: 店外经营}
      fields: {描述: 问题描述}          # a citywatch field sent under another name

Every field has a default (``DEFAULT_FIELDS``); ``fields:`` renames some of them. A category
code not under ``categories:`` is sent with its 大类 / 小类 codes (the first four digits, and
the whole code) as the names, so a city that maps codes itself still gets them.
"""

from __future__ import annotations

import difflib
import re

from pydantic import Field, field_validator, model_validator

from streams.config.base import Base

# citywatch's case field -> the GB/T 30428 field name it is sent as (the README's table)
DEFAULT_FIELDS: dict[str, str] = {
    "case_number": "案件编号",
    "source": "问题来源",
    "major": "大类",
    "minor": "小类",
    "category_code": "类别编码",
    "address": "位置",
    "grid": "单元网格",
    "lat": "纬度",
    "lon": "经度",
    "description": "描述",
    "filed_at": "立案时间",
    "dispatched_at": "派遣时间",
    "resolved_at": "处置时间",
    "verified_at": "核查时间",
    "closed_at": "结案时间",
    "deadline": "处置时限",
    "unit": "处置单位",
    "evidence": "证据",
}
CODE = re.compile(r"^[0-9]{6}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CaseCategory(Base):
    major: str = Field(min_length=1, description="大类 name, e.g. 街面秩序")
    minor: str = Field(min_length=1, description="小类 name, e.g. 店外经营")


class BasicAuth(Base):
    user_env: str = Field(pattern=ENV_NAME.pattern, description="environment variable holding the user")
    password_env: str = Field(
        pattern=ENV_NAME.pattern, description="environment variable holding the password"
    )


class CaseSystem(Base):
    url: str = Field(description="the case system's endpoint: each case is POSTed to it as JSON")
    token_env: str | None = Field(
        None, pattern=ENV_NAME.pattern, description="environment variable with a bearer token"
    )
    basic: BasicAuth | None = Field(None, description="HTTP basic authentication (instead of token_env)")
    source: str = Field("智能视频发现", min_length=1, description="问题来源 of every case")
    case_prefix: str = Field("", max_length=32, description="案件编号 = case_prefix + citywatch's case_id")
    timeout_s: float = Field(10.0, gt=0, le=300, description="seconds one request may take")
    retries: int = Field(
        5, ge=0, le=1000, description="attempts after the first before a pass gives up (then it starts over)"
    )
    backoff_initial_s: float = Field(1.0, gt=0, description="wait after the first failed attempt (doubling)")
    backoff_cap_s: float = Field(60.0, gt=0, description="longest wait between attempts")
    categories: dict[str, CaseCategory] = Field(
        default_factory=dict, description="GB/T 30428 category code (6 digits) -> 大类 / 小类 names"
    )
    fields: dict[str, str] = Field(
        default_factory=dict, description="citywatch case field -> the field name the case system wants"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL: write the case system's endpoint")
        return value

    @field_validator("categories")
    @classmethod
    def _codes(cls, value: dict[str, CaseCategory]) -> dict[str, CaseCategory]:
        for code in value:
            if not CODE.match(code):
                raise ValueError(
                    f"category code {code!r} is not a GB/T 30428 code: write its 6 digits in quotes, "
                    'e.g. "200504" (大类 2005 街面秩序)'
                )
        return value

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for key, name in value.items():
            if key not in DEFAULT_FIELDS:
                close = difflib.get_close_matches(key, list(DEFAULT_FIELDS), n=1)
                hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(DEFAULT_FIELDS)})"
                raise ValueError(f"fields: {key!r} is not a citywatch case field{hint}")
            if not name.strip():
                raise ValueError(f"fields: {key} has an empty name: write the case system's field name")
        names = [*{**DEFAULT_FIELDS, **value}.values()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"fields: {', '.join(twice)} would name two fields: give each its own name")
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> CaseSystem:
        if self.token_env and self.basic:
            raise ValueError("give either token_env or basic, not both")
        if self.backoff_cap_s < self.backoff_initial_s:
            raise ValueError("backoff_cap_s is shorter than backoff_initial_s: raise backoff_cap_s")
        return self

    def field_names(self) -> dict[str, str]:
        """Every citywatch case field -> the name it is sent as."""
        return {**DEFAULT_FIELDS, **self.fields}
