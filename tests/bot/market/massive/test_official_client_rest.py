"""The official ``massive`` client, unmodified, against ``serve-market``'s REST side: chain filters and
pagination, a single contract, minute bars over dates, and 400s with a JSON error for bad parameters."""

from __future__ import annotations

import datetime as dt

import pytest
from massive import RESTClient
from massive.exceptions import BadResponse

from market_thread import KEY, MarketThread
from tradingbot.market.clock import eastern

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client():
    with MarketThread(symbols=("SPY", "QQQ")) as market:
        yield RESTClient(api_key=KEY, base=f"http://{market.url}", retries=0), market


def test_chain_filters_and_pagination_as_the_official_client_uses_them(client):
    rest, _ = client
    everything = list(rest.list_snapshot_options_chain("SPY", params={"limit": 50}))
    assert len(everything) > 50  # more than one page, followed through next_url
    strikes = sorted({c.details.strike_price for c in everything})
    low, high = strikes[len(strikes) // 4], strikes[len(strikes) // 2]
    calls = list(
        rest.list_snapshot_options_chain(
            "SPY", params={"strike_price.gte": low, "strike_price.lte": high, "contract_type": "call", "limit": 250}
        )
    )
    assert calls and all(low <= c.details.strike_price <= high and c.details.contract_type == "call" for c in calls)
    first = min(c.details.expiration_date for c in everything)
    soon = list(rest.list_snapshot_options_chain("SPY", params={"expiration_date.lte": first}))
    assert soon and {c.details.expiration_date for c in soon} == {first}
    assert len({c.details.ticker for c in everything}) == len(everything)  # no page served twice


def test_a_single_contract_snapshot(client):
    rest, _ = client
    contract = next(iter(rest.list_snapshot_options_chain("QQQ", params={"limit": 5})))
    one = rest.get_snapshot_option("QQQ", contract.details.ticker)
    assert one.details.ticker == contract.details.ticker and one.greeks is not None and one.last_quote is not None


def test_minute_bars_over_a_range_of_days(client):
    rest, _ = client
    today = eastern(int(dt.datetime.now(dt.UTC).timestamp() * 1000)).date()
    bars = rest.get_aggs("SPY", 1, "minute", (today - dt.timedelta(days=1)).isoformat(), today.isoformat())
    assert len(bars) == 30 and all(b.close > 0 for b in bars)  # the server's 30 minutes of history


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 251}, {"limit": "many"}, {"cursor": "-3"}, {"strike_price.gte": "x"}]
)
def test_bad_parameters_are_a_400_with_a_json_error_never_a_500(client, params):
    rest, _ = client
    with pytest.raises(BadResponse) as refused:
        list(rest.list_snapshot_options_chain("SPY", params=params))
    assert '"status": "ERROR"' in str(refused.value) and "500" not in str(refused.value)
