"""The HTML reports as a person sees them: rendered by headless Chromium (Debian's ``chromium``) into a
screenshot that is not blank and shows the charts' lines and bars."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from png import read_png
from tiny import TINY_FLAGS
from tradingbot.__main__ import main
from tradingbot.baselines import RandomPolicy
from tradingbot.books.bookkeeper import Bookkeeper
from tradingbot.books.journal import open_journal
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.risk import RiskLimits
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig

BLUE, RED = (0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28)
"""The first two chart colours."""


def screenshot(chromium: str, page: Path) -> np.ndarray:
    """The page rendered at 1000 x 1400 CSS pixels."""
    image = page.with_suffix(".png")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1400",
         f"--screenshot={image}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    return read_png(image)


def pixels_near(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((np.abs(image.astype(int) - colour).sum(axis=2) < 40).sum())


def test_the_journal_report_renders_its_charts(tmp_path, chromium, capsys):
    journal_path = tmp_path / "journal.sqlite"
    market = MarketSimulator(SimulatorConfig(("SPY", "QQQ"), seed=2, steps_per_day=26))
    env = PaperTradingEnvironment(market, EnvironmentConfig(steps_per_day=26, risk=RiskLimits(daily_loss=1.0)))
    keeper = Bookkeeper(open_journal(str(journal_path), "spy-qqq"), env)
    keeper.journal.open_account(env.portfolio.snapshot())
    policy = RandomPolicy(0)
    for step in range(1, 26 * 6):
        keeper.book(step, env.step(policy.act(env.observation(), env.action_mask())))
        assert keeper.flush()
    out = tmp_path / "report.html"
    assert main(["report", "--journal", str(journal_path), "--out", str(out)]) == 0
    assert "report written" in capsys.readouterr().out
    page = out.read_text()
    assert page.count("<svg") == 6 and "Trade journal: spy-qqq" in page
    image = screenshot(chromium, out)
    assert (image.sum(axis=2) < 600).mean() > 0.02  # not blank: text, axes and charts
    assert pixels_near(image, BLUE) > 500  # the equity line, the bars


def test_the_evaluation_report_renders_policies_and_learning_curves(tmp_path, chromium):
    out = tmp_path / "evaluation.html"
    args = ["evaluate", "--days", "2", "--seeds", "2", "--steps-per-day", "40", "--update-frequency", "20"]
    assert main([*args, "--online", "--symbols", "SPY", "--html", str(out), *TINY_FLAGS]) == 0
    page = out.read_text()
    assert "Losses per update" in page and "Entropy per update" in page and "random (mean of 2 seeds)" in page
    image = screenshot(chromium, out)
    assert (image.sum(axis=2) < 600).mean() > 0.02
    assert pixels_near(image, BLUE) > 500 and pixels_near(image, RED) > 200  # agent and hold, policy and value


def test_a_journal_without_fills_still_gets_a_page(tmp_path, capsys):
    journal_path = tmp_path / "journal.sqlite"
    journal = open_journal(str(journal_path), "idle")
    journal.open_account(
        PaperTradingEnvironment(MarketSimulator(SimulatorConfig(("SPY",))), EnvironmentConfig()).portfolio.snapshot()
    )
    journal.close()
    out = tmp_path / "report.html"
    assert main(["report", "--journal", str(journal_path), "--out", str(out)]) == 0
    assert "no data yet" in out.read_text() and "(0 fills)" in capsys.readouterr().out
