# tools/openapi_paper.py: OpenAPI texts of the paper account (http/routes_paper.h): the account per mode, its
# positions, its ledger, its equity per trading day and its reset, read by tools/openapi_gen.py. Shapes and
# rules: docs/paper-account.md.
TAGS = [('/api/account/paper', 'Paper Account')]
SUMMARY = {
    'get_paper_account': 'Get Paper Account', 'list_paper_positions': 'List Paper Positions',
    'list_paper_ledger': 'List Paper Ledger', 'paper_equity_daily': 'Get Paper Equity Per Trading Day',
    'reset_paper_account': 'Reset Paper Account',
}
RESULT = {
    'get_paper_account': 'PaperAccountDocument', 'list_paper_positions': 'PaperPositions',
    'list_paper_ledger': 'PaperLedgerPage', 'paper_equity_daily': 'PaperEquity', 'reset_paper_account': 'PaperAccountReset',
}
PARAM_ENUM = {
    ('get_paper_account', 'mode'): MODES, ('list_paper_positions', 'mode'): MODES, ('list_paper_ledger', 'mode'): MODES,
    ('paper_equity_daily', 'mode'): MODES, ('reset_paper_account', 'mode'): MODES,
}
_dec = {'type': 'string', 'description': 'exact decimal'}
_ndec = {'type': ['string', 'null'], 'description': 'exact decimal'}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_uuid = {'type': 'string', 'format': 'uuid'}
_int = {'type': 'integer'}
_bool = {'type': 'boolean'}
_pct = {'type': ['number', 'null'], 'description': 'percent, rounded to 6 decimals'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_mode = {'enum': MODES}
_banner = _obj(disclaimer=_ref('ComplianceBanner'))
SCHEMAS = {
    # ex7._paper_account (ext/sql/83_paper.sql): also the portfolio's "account"
    'PaperAccount': _obj(
        mode=_mode, starting_capital=_dec,
        started_at={**_nts, 'description': 'the last reset; null when never reset (every close counts)'},
        is_default={**_bool, 'description': 'never reset: 10000.00 from the first close'}, resets=_int, updated_at=_nts,
        closes={**_int, 'description': 'closes since the start (force-closes included, at 0.00)'},
        realized_pnl={**_dec, 'description': 'net P&L of the closes since the start'},
        open_signals=_int, positions={**_int, 'description': 'instruments with an open signal'},
        unmarked_positions={**_int, 'description': 'positions whose instrument has no bar: left out of the unrealized P&L'},
        unrealized_gross_pnl=_dec,
        unrealized_pnl={**_dec, 'description': 'every open signal closed at its mark: net of both sides\' slippage and commission'},
        equity={**_dec, 'description': 'starting capital + realized + unrealized'},
        return_percent={**_pct, 'description': '(equity - starting capital) / starting capital, percent'},
        realized_drawdown=_obj(peak_equity=_dec, equity=_dec, amount=_dec, percent=_pct),
        today=_obj(trading_day={'type': 'string', 'format': 'date'}, trading_day_start=_ts, closes=_int, realized_pnl=_dec),
        as_of=_ts),
    'PaperAccountDocument': {'allOf': [_ref('PaperAccount'), _banner]},
    'PaperAccountReset': {'allOf': [_ref('PaperAccount'), _obj(
        previous=_obj(starting_capital=_dec, started_at=_nts, closes=_int, realized_pnl=_dec, equity=_dec),
        disclaimer=_ref('ComplianceBanner'))]},
    'PaperPosition': _obj(
        instrument={'type': 'string'}, side={'enum': ['long', 'short', 'flat']},
        size={**_int, 'description': 'net contracts over every open signal of the instrument, whatever the strategy'},
        average_price={**_ndec, 'description': 'break-even price of the net position; null when flat'},
        long_size=_int, long_average_price=_ndec, short_size=_int, short_average_price=_ndec, open_signals=_int,
        strategy_ids={'type': 'array', 'items': _uuid}, opened_at=_ts,
        mark_price={**_ndec, 'description': 'the close of the instrument\'s last bar; null without a bar'},
        mark_bar_time=_nts, mark_timeframe={'type': ['string', 'null']}, mark_fresh=_bool,
        unrealized_gross_pnl=_ndec, unrealized_pnl=_ndec),
    'PaperPositions': _obj(mode=_mode, as_of=_ts, items={'type': 'array', 'items': _ref('PaperPosition')},
                           open_signals=_int, unrealized_gross_pnl=_dec, unrealized_pnl=_dec, unmarked_positions=_int,
                           disclaimer=_ref('ComplianceBanner')),
    'PaperLedgerEntry': _obj(
        signal_id=_uuid, strategy_id=_uuid, instrument={'type': 'string'}, side={'enum': check_enum('signals', 'side')},
        size=_int, entry_price=_dec, close_price=_dec, fired_at=_ts, closed_at=_ts,
        status={'enum': ['closed', 'cancelled']}, close_reason={'enum': check_enum('signals', 'close_reason')},
        gross_pnl=_dec, slippage_cost=_dec, commission=_dec, net_pnl=_dec,
        balance={**_dec, 'description': 'the account\'s realized equity after this close'}),
    'PaperLedgerPage': _obj(mode=_mode, starting_capital=_dec, started_at=_nts,
                            items={'type': 'array', 'items': _ref('PaperLedgerEntry')},
                            next_cursor={'type': ['string', 'null']}, disclaimer=_ref('ComplianceBanner')),
    'PaperEquityDay': _obj(
        trading_day={'type': 'string', 'format': 'date', 'description': 'the date the trading day ends (New York)'},
        start=_ts, end=_ts, complete={**_bool, 'description': 'false for a day cut by to or by now'},
        closes=_int, realized_pnl=_dec, realized_equity=_dec, open_signals=_int, unmarked_signals=_int,
        unrealized_pnl=_dec, equity=_dec),
    'PaperEquity': _obj(mode=_mode, starting_capital=_dec, started_at=_nts, **{'from': _nts}, to=_ts,
                        days={'type': 'array', 'items': _ref('PaperEquityDay')}, as_of=_ts,
                        disclaimer=_ref('ComplianceBanner')),
}
DESCRIPTION = {
    'get_paper_account': 'The paper account of one mode: starting capital and start (the last reset), the net P&L realized '
                         'since the start, the open positions at the mark of their instrument\'s last bar, equity, the '
                         'realized drawdown and today\'s closes. Performance, portfolio and the protections read the same '
                         'figures. Carries the CFTC Rule 4.41 statement.',
    'list_paper_positions': 'The open signals of the mode netted per instrument across strategies: net size, break-even '
                            'average price, each side\'s size and average, the mark and the unrealized P&L (what closing '
                            'every open signal at the mark would book, through compute_pnl).',
    'list_paper_ledger': 'Every close of the mode since the account\'s start, newest first, with the P&L compute_pnl gave it '
                         'and the account\'s balance after it; keyset pages. A strategy_id not the caller\'s is 404.',
    'paper_equity_daily': 'The equity at the end of each CME trading day (18:00 New York) from from (default: the account\'s '
                          'start) to to (default and at most: now), at most 366 days: the realized equity and the open '
                          'signals marked at that end.',
    'reset_paper_account': 'Starts the account of the mode over now, with starting_capital (default: the current one): the '
                           'ledger and the equity count the closes from then on. 409 open_positions while the mode has open '
                           'signals (close or force-close them first).',
}
