"""Massive's REST API over aiohttp: the option chain snapshot of an underlying, page by page.

Authentication is the ``Authorization: Bearer`` header (never the query string, so the key is in no
URL that could be logged). ``next_url`` pages are followed on the configured base URL. 429 waits for
``Retry-After`` (or backs off exponentially), 5xx and connection errors back off and retry; 401 and 403
are :class:`MassiveRestError` with ``fatal`` set: a key or plan problem that retrying cannot fix.

Pagination is bounded whatever the server sends: at most ``max_pages`` pages and ``max_results`` results
per listing, and a ``next_url`` seen before (a loop) ends the listing with an error instead of a
runaway fetch.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tradingbot.market.massive.constants import REST_URL
from tradingbot_contract.backoff import Backoff

RETRYABLE = frozenset({413, 429, 499, 500, 502, 503, 504})


class MassiveRestError(Exception):
    """A REST request failed; ``fatal`` when retrying cannot help (refused key, plan without access)."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


@dataclass(frozen=True)
class RestConfig:
    """Base URL, per-request timeout and retry policy (seconds)."""

    base_url: str = REST_URL
    timeout_s: float = 10.0
    retries: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    page_limit: int = 250
    max_pages: int = 100
    """Pages per listing at most (a chain of ±20 % strikes over 45 days fits in about 20 of 250)."""
    max_results: int = 50_000
    """Results per listing at most (whatever page sizes the server uses)."""


class MassiveRest:
    """REST calls on one aiohttp session (owned by the caller)."""

    def __init__(self, api_key: str, session: aiohttp.ClientSession, config: RestConfig | None = None) -> None:
        self.config = config or RestConfig()
        self._session = session
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept-Encoding": "gzip"}
        self.retries_done = 0

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET ``path`` (with its query) on the base URL; the decoded JSON body."""
        url = self.config.base_url.rstrip("/") + path
        where = f"Massive REST {path.split('?', maxsplit=1)[0]}"
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)
        for attempt in range(self.config.retries + 1):
            wait: float | None = None
            try:
                async with self._session.get(
                    url,
                    params=params,
                    headers=self._headers,
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
                ) as response:
                    text = await response.text()
                    if response.status == 200:
                        return dict(json.loads(text))
                    message = _message(text, response.status)
                    if response.status in (401, 403):
                        raise MassiveRestError(f"{where}: {message}", fatal=True)
                    if response.status not in RETRYABLE:
                        raise MassiveRestError(f"{where}: {message}")
                    retry_after = response.headers.get("Retry-After")
                    wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                if attempt == self.config.retries:
                    raise MassiveRestError(f"{where}: {type(error).__name__}") from None
            if attempt == self.config.retries:
                break
            self.retries_done += 1
            await asyncio.sleep(backoff.next(at_least_s=wait or 0.0))
        raise MassiveRestError(f"{where}: still failing after {self.config.retries} retries")

    async def option_chain(
        self, underlying: str, expiration_lte: date | None = None, strikes: tuple[float, float] | None = None
    ) -> list[dict[str, Any]]:
        """Every ``/v3/snapshot/options/{underlying}`` result (all pages), optionally filtered."""
        params = {"limit": str(self.config.page_limit)}
        if expiration_lte is not None:
            params["expiration_date.lte"] = expiration_lte.isoformat()
        if strikes is not None:
            params["strike_price.gte"], params["strike_price.lte"] = f"{strikes[0]:.2f}", f"{strikes[1]:.2f}"
        return [item async for item in self._listing(f"/v3/snapshot/options/{underlying}", params)]

    async def minute_bars(self, ticker: str, from_ms: int, to_ms: int) -> list[tuple[int, float]]:
        """Minute closes of ``ticker`` (``/v2/aggs``) between two epoch-ms instants: ``(start_ms, close)``."""
        path = f"/v2/aggs/ticker/{ticker}/range/1/minute/{from_ms}/{to_ms}"
        bars: list[tuple[int, float]] = []
        async for bar in self._listing(path, {"adjusted": "true", "sort": "asc", "limit": "50000"}):
            t, close = bar.get("t"), bar.get("c")
            valid = isinstance(close, int | float) and math.isfinite(close) and close > 0
            if isinstance(t, int) and not isinstance(t, bool) and valid:
                bars.append((t, float(close)))  # type: ignore[arg-type]  # checked just above
        return bars

    async def _listing(self, path: str, query: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Every result of a paged listing, following ``next_url`` on our base URL (header auth), bounded."""
        seen: set[str] = set()
        where = f"Massive REST {path}"
        current: tuple[str, dict[str, str] | None] | None = (path, query)
        pages = results = 0
        while current is not None:
            pages += 1
            if pages > self.config.max_pages:
                raise MassiveRestError(f"{where}: more than {self.config.max_pages} pages; the listing is cut off")
            body = await self.get(*current)
            for item in body.get("results") or []:
                if isinstance(item, dict):
                    results += 1
                    if results > self.config.max_results:
                        raise MassiveRestError(f"{where}: more than {self.config.max_results} results")
                    yield item
            next_url = body.get("next_url")
            if not isinstance(next_url, str) or not next_url:
                return
            parts = urlsplit(next_url)
            following = parts.path + (f"?{parts.query}" if parts.query else "")
            if following in seen or following == path:
                raise MassiveRestError(f"{where}: next_url repeats an earlier page (page {pages}): a pagination loop")
            seen.add(following)
            current = (following, None)


def _message(text: str, status: int) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return f"HTTP {status}"
    if isinstance(body, dict):
        return f"HTTP {status}: {body.get('error') or body.get('message') or body.get('status')}"
    return f"HTTP {status}"
