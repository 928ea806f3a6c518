"""What a customer's problem is keyed by when many customers have it at once (framework-free: the handoff
service's incident detector counts reports under these keys, the action server matches a customer's
problem against the open incidents' keys; handoff/incidents.py has the rules).

- ``error:{CODE}``: the error code the customer named (E-1001): an error code names one problem;
- ``product:{category}:{product}``: the category and the product together (billing problems with the
  Smart TV app are not technical problems with it);
- ``article:{id}``: an article that was shown and did not help.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def _slug(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).casefold()


def problem_keys(*, category: str = "", product: str = "", error_code: str = "",
                 articles_not_helped: Iterable[str] = ()) -> tuple[str, ...]:
    keys: list[str] = []
    code = re.sub(r"\s+", "", error_code).upper()
    if code:
        keys.append(f"error:{code}")
    if category and product:
        keys.append(f"product:{_slug(category)}:{_slug(product)}")
    keys += [f"article:{article.strip()}" for article in articles_not_helped if article and article.strip()]
    return tuple(dict.fromkeys(keys))
