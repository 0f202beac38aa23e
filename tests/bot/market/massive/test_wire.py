"""Decoding Massive frames: straight into the shared types; bad events cost only themselves."""

from __future__ import annotations

import pytest

from tradingbot.market.massive.wire import FrameDecoder
from tradingbot.market.types import MinuteAggregate, OptionQuote, OptionTrade, Status, StockQuote, StockTrade

STOCK_QUOTE = (
    '{"ev":"Q","sym":"SPY","bx":11,"bp":651.36,"bs":3,"ax":12,"ap":651.38,"as":5,"c":0,"i":[604],'
    '"t":1765224000130,"q":50385480,"z":2}'
)
STOCK_TRADE = '{"ev":"T","sym":"SPY","x":4,"i":"5298","z":2,"p":651.37,"s":100,"c":[12,41],"t":1765224000123,"q":74}'
MINUTE_BAR = (
    '{"ev":"AM","sym":"SPY","v":182311,"av":41238812,"op":648.9,"vw":651.2417,"o":651.1,"c":651.37,"h":651.44,'
    '"l":651.02,"a":650.1183,"z":118,"s":1765223940000,"e":1765224000000}'
)
OPTION_QUOTE = (
    '{"ev":"Q","sym":"O:SPY251219C00650000","bx":302,"ax":302,"bp":14.1,"ap":14.3,"bs":17,"as":24,'
    '"t":1765224001460,"q":844090872}'
)
OPTION_TRADE = '{"ev":"T","sym":"O:SPY251219C00650000","x":65,"p":14.25,"s":3,"c":[209],"t":1765224001456,"q":6519}'


def test_documented_events_decode_into_the_shared_types():
    stocks = FrameDecoder("stocks").decode(f"[{STOCK_QUOTE},{STOCK_TRADE},{MINUTE_BAR}]".encode())
    assert stocks == [
        StockQuote("SPY", 651.36, 3, 651.38, 5, 1765224000130),
        StockTrade("SPY", 651.37, 100, 1765224000123),
        MinuteAggregate("SPY", 651.1, 651.44, 651.02, 651.37, 182311, 1765223940000, 1765224000000, 651.2417),
    ]
    options = FrameDecoder("options").decode(f"[{OPTION_QUOTE},{OPTION_TRADE}]")
    assert options == [
        OptionQuote("O:SPY251219C00650000", 14.1, 17, 14.3, 24, 1765224001460),
        OptionTrade("O:SPY251219C00650000", 14.25, 3, 1765224001456),
    ]
    connected = FrameDecoder("stocks").decode('[{"ev":"status","status":"connected","message":"Connected"}]')
    assert connected == [Status("connected", "Connected")]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"ev":"Q","sym":"SPY","bp":-1,"bs":3,"ap":651.38,"as":5,"t":1}', "invalid_events"),
        ('{"ev":"T","sym":"SPY","p":0,"s":1,"t":1}', "invalid_events"),
        ('{"ev":"T","sym":"SPY","p":NaN,"s":1,"t":1}', "invalid_events"),
        ('{"ev":"T","sym":"SPY","p":Infinity,"s":1,"t":1}', "invalid_events"),
        ('{"ev":"T","sym":"SPY","s":1,"t":1}', "invalid_events"),
        ('{"ev":"LULD","T":"SPY","h":1,"l":0.5}', "unknown_events"),
        ('"not an event"', "invalid_events"),
    ],
)
def test_a_bad_event_is_counted_and_its_neighbours_kept(bad, reason):
    decoder = FrameDecoder("stocks")
    assert decoder.decode(f"[{STOCK_QUOTE},{bad},{STOCK_TRADE}]") == [
        StockQuote("SPY", 651.36, 3, 651.38, 5, 1765224000130),
        StockTrade("SPY", 651.37, 100, 1765224000123),
    ]
    assert getattr(decoder.stats, reason) == 1


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"garbage",
        b'{"ev":"Q"}',
        b"[{",
        b"\xff\xfe",
        b'[{"ev":"T","sym":"SP\xff","p":1.0,"s":1,"t":1}]',  # invalid UTF-8 inside a string
        '[{"ev":"T","sym":"SP\udcff","p":1.0,"s":1,"t":1}]',  # the same, recorded with surrogateescape
    ],
)
def test_malformed_frames_are_counted_and_yield_nothing(frame):
    decoder = FrameDecoder("options")
    assert decoder.decode(frame) == []
    assert decoder.stats.malformed_frames == 1


def test_unknown_event_types_are_tallied_without_growing_without_bound():
    decoder = FrameDecoder("stocks")
    for i in range(100):
        decoder.decode(f'[{{"ev":"X{i}"}}]')
    assert decoder.stats.unknown_events == 100 and len(decoder.stats.unknown_types) == 32
