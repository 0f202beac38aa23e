"""``tradingbot market-report``: every statistic beside its band, and a page with the four charts."""

from __future__ import annotations

import re

from tradingbot.__main__ import main
from tradingbot.market.sim.calibration import TARGETS


def test_the_report_prints_every_statistic_with_its_band_and_writes_the_charts(tmp_path, capsys):
    page = tmp_path / "market.html"
    assert main(["market-report", "--days", "60", "--symbols", "SPY,XYZ", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    for symbol in ("SPY", "XYZ"):
        assert re.search(rf"^{symbol}$", out, re.MULTILINE)
    for name, band in TARGETS["SPY"].items():
        assert re.search(rf"^  {name} +-?\d+\.\d{{4}} +target {band.low:g} \.\. {band.high:g} ", out, re.MULTILINE)
    assert re.search(r"^\d+ statistic\(s\) outside their target band$", out, re.MULTILINE)
    html = page.read_text()
    assert html.count("<svg") == 8  # returns, term structure, skew, spreads for each symbol
    assert html.count("<polyline") >= 8 and "<rect" in html  # lines drawn, the histogram's bars
    for symbol in ("SPY", "XYZ"):
        for title in ("daily log returns", "ATM implied volatility by tenor", "skew (", "call spread by moneyness"):
            assert f"<title>{symbol}: {title}" in html
    assert "nan" not in re.sub(r"<pre>.*?</pre>", "", html, flags=re.DOTALL).lower()


def test_too_few_days_is_refused(capsys):
    assert main(["market-report", "--days", "10"]) == 2
    assert "--days must be at least 60" in capsys.readouterr().err
