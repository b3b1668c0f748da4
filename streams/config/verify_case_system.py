"""The ``case_system:`` section's cross-reference: every code it names 大类 / 小类 for is the
code of a category under ``categories:`` (a mistyped code would leave its category unnamed)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from streams.config.models import Config
from streams.config.yamlmap import Finding


def verify_case_system_categories(cfg: Config) -> Iterator[Finding]:
    if cfg.case_system is None:
        return
    codes = sorted({c.code for c in cfg.categories.values()})
    for code in cfg.case_system.categories:
        if code not in codes:
            close = difflib.get_close_matches(code, codes, n=1, cutoff=0.6)
            hint = (
                f" (did you mean {close[0]}?)" if close else f" (the categories' codes: {', '.join(codes)})"
            )
            yield (
                ("case_system", "categories", code),
                f"case_system names category code {code}, which no category under categories: has{hint}",
            )
