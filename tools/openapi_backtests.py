# tools/openapi_backtests.py: OpenAPI texts of the backtests area (http/routes_backtests.h), read by
# tools/openapi_gen.py. Shapes: docs/backtests.md.
TAGS = [('/api/strategies/{strategy_id}/backtest', 'Backtests'), ('/api/backtests', 'Backtests'),
        ('/api/strategies/{strategy_id}/validation', 'Validation'), ('/api/validation', 'Validation')]
SUMMARY = {
    'backtest_strategy': 'Backtest Strategy', 'list_backtests': 'List Backtests', 'get_backtest': 'Get Backtest',
    'backtest_equity_svg': 'Backtest Equity Chart', 'get_validation': 'Get Validation',
    'validate_strategy': 'Validate Strategy', 'get_validation_policy': 'Get Validation Policy',
}
RESULT = {
    'backtest_strategy': 'Backtest', 'list_backtests': 'BacktestList', 'get_backtest': 'Backtest',
    'get_validation': 'ValidationState', 'validate_strategy': 'Validation', 'get_validation_policy': 'ValidationPolicy',
}
BODY = {'backtest_strategy': 'BacktestRequest'}
_dec = {'type': 'string', 'description': 'exact decimal'}
_ndec = {'type': ['string', 'null'], 'description': 'exact decimal'}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_int = {'type': 'integer'}
_uuid = {'type': 'string', 'format': 'uuid'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_statement = _obj(rule={'type': 'string', 'const': 'CFTC Rule 4.41(b)(1)(i)'},
                  text={'type': 'string', 'description': 'the hypothetical-performance statement, verbatim'})
_counts = lambda *names: _obj(**{n: _int for n in names})
_verdict_failed = {'type': 'array', 'items': _obj(criterion={'type': 'string'},
                                                  observed={'type': ['string', 'number', 'integer', 'null']},
                                                  required={'type': ['string', 'number', 'integer']})}
_policy = _obj(window_days=_int, min_trades={'type': ['integer', 'null']}, max_drawdown=_ndec,
               min_profit_factor={'type': ['number', 'null']}, min_net_pnl=_ndec, min_win_rate={'type': ['number', 'null']},
               min_deflated_sharpe={'type': ['number', 'null'], 'description': '0..1 (docs/research.md, "The Judge")'},
               min_walk_forward_efficiency={'type': ['number', 'null']})
SCHEMAS = {
    'BacktestRequest': {
        'type': 'object', 'required': ['from', 'to'], 'additionalProperties': False,
        'properties': {
            'from': {**_ts, 'description': 'bars closing after this time...'},
            'to': {**_ts, 'description': '...and at or before this one (at most 3660 days later)'},
            'version': {'type': 'integer', 'minimum': 1, 'description': 'the strategy version (default: current)'},
            'initial_capital': {'type': ['string', 'number'], 'description': 'exact decimal, default 10000.00'},
            'risk_free_rate': {'type': ['string', 'number'], 'description': 'annual, 0 to 1, default 0 (for the metrics)'},
            'risk_gate': {'type': 'boolean', 'default': False,
                          'description': "entries pass the risk gate (ex7.risk_decide) with the user's paper limits, "
                                         "counted on the backtest's own trading days"},
            'evaluation': {'enum': ['exact', 'fast'], 'default': 'exact',
                           'description': "exact: each bar on the dispatcher's window (live's signals); fast: one graph "
                                          "run per chunk of 8192 bars"}}},
    'BacktestTrade': _obj(seq=_int, entry_time=_ts, exit_time=_ts, side={'enum': ['long', 'short']}, quantity=_int,
                          entry_price=_dec, exit_price=_dec, stop_price=_ndec, target_price=_ndec,
                          exit_reason={'enum': ['stop_loss', 'take_profit', 'exit_signal', 'reverse', 'end_of_range']},
                          gross_pnl=_dec, slippage_cost=_dec, commission=_dec,
                          pnl={**_dec, 'description': 'net of slippage and commission (ex7.compute_pnl)'},
                          mae={**_dec, 'description': 'largest adverse excursion while open, gross money, >= 0'},
                          mfe={**_dec, 'description': 'largest favourable excursion while open, gross money, >= 0'},
                          tag={'type': 'null'}),
    'BacktestSummary': _obj(
        bars=_int, evaluation={'enum': ['exact', 'fast']}, lookback=_int, entries=_int, trades=_int, wins=_int,
        losses=_int, net_pnl=_dec, gross_profit=_dec, gross_loss=_dec, max_drawdown=_dec, final_equity=_dec,
        skipped=_counts('warming_up', 'position_open', 'long_and_short_entries_on_one_bar', 'runtime_draining'),
        risk_gate={'type': 'boolean'},
        blocked=_counts('daily_loss_limit', 'max_trades_per_day', 'max_open_positions', 'max_consecutive_losses'),
        elapsed_ms={'type': 'number'}, store_ms={'type': 'number', 'description': 'the part of elapsed_ms spent storing trades and the curve'},
        bars_per_second={'type': 'number'}),
    'BacktestItem': _obj(
        id=_uuid, strategy_id=_uuid, strategy_version=_int, instrument={'type': 'string'}, timeframe={'type': 'string'},
        **{'from': _ts}, to=_ts, params={'type': 'object'}, purpose={'enum': ['user', 'validation', 'study']},
        trades_kept={'type': 'boolean', 'description': 'false only for a study trial run without storing its trades '
                    '(its equity curve is then daily: the first point and each UTC day\'s last)'},
        status={'enum': ['queued', 'running', 'done', 'failed']},
        progress=_obj(bars_done=_int, bars_total={'type': ['integer', 'null']}, percent={'type': 'number'}),
        result={'oneOf': [_ref('BacktestSummary'), {'type': 'null'}]}, error={'type': ['string', 'null']},
        created_at=_ts, started_at=_nts, finished_at=_nts, duration_ms={'type': ['number', 'null']},
        compliance=_statement),
    'Backtest': {'allOf': [_ref('BacktestItem'), _obj(
        trades={'type': ['array', 'null'], 'items': _ref('BacktestTrade'),
                'description': 'null for a study trial whose trades were not kept (trades_kept false)'},
        equity={'type': 'array', 'items': _obj(ts=_ts, equity=_dec)},
        metrics={'oneOf': [_ref('Metrics'), {'type': 'null'}], 'description': 'ex7.compute_metrics of the trades and curve (docs/metrics.md); null until done, and for a study trial whose trades were not kept'})]},
    'BacktestList': _obj(items={'type': 'array', 'items': _ref('BacktestItem')}, next_cursor={'type': ['string', 'null']},
                         compliance=_statement),
    'ValidationPolicy': _policy,
    'Validation': _obj(
        id=_uuid, strategy_id=_uuid, strategy_version=_int, backtest_id=_uuid, passed={'type': 'boolean'},
        trigger={'enum': ['promotion', 'request']}, window=_obj(**{'from': _ts}, to=_ts, bars=_int), criteria=_policy,
        observed=_obj(bars=_int, trades=_int, net_pnl=_dec, max_drawdown=_dec, profit_factor={'type': ['number', 'null']},
                      win_rate={'type': ['number', 'null']}, days=_int, sharpe_per_day={'type': ['number', 'null']},
                      deflated_sharpe={'type': ['number', 'null']}, trials=_int,
                      trials_study_id={'type': ['string', 'null'], 'format': 'uuid'},
                      walk_forward_efficiency={'type': ['number', 'null']},
                      walk_forward_study_id={'type': ['string', 'null'], 'format': 'uuid'}),
        failed=_verdict_failed, validated_at=_ts, compliance=_statement),
    'ValidationState': _obj(strategy_id=_uuid, current_version=_int, policy=_policy,
                            latest={'oneOf': [_ref('Validation'), {'type': 'null'}]}, compliance=_statement),
}
DESCRIPTION = {
    'backtest_strategy': "Runs a strategy version over the stored bars of (from, to] with the live path's pieces: the same "
                         'compiled graph, the same fills (stop and target at their levels, entries on the bar close, one '
                         'position per side, reversals), ex7.compute_pnl with slippage and commission, optionally the risk '
                         'gate. 201 with the backtest: done when it ran inline (at most 20,000 bars), queued when a '
                         'background worker runs it (poll GET /api/backtests/{id}: status and progress). 429 when two are '
                         'already queued or running. Hypothetical performance: carries the CFTC Rule 4.41 statement.',
    'list_backtests': 'The backtests of a strategy (the Judge\'s too, purpose validation), newest first, without trades and '
                      'curve; keyset pages (cursor).',
    'get_backtest': 'A backtest with its trades, equity curve (every trade close and UTC day end) and metrics '
                    '(ex7.compute_metrics), and the CFTC Rule 4.41 statement.',
    'backtest_equity_svg': 'The equity curve and its drawdown as an SVG picture with axes and the CFTC Rule 4.41 statement '
                           'under the chart.',
    'get_validation': "The Judge's policy and its latest stored verdict on the strategy (a passing promotion or a POST "
                      'validation stores one; a refused promotion is rolled back with its verdict).',
    'validate_strategy': 'Runs the Judge now on the current version (a backtest over the policy window before the newest '
                         'stored bar) and stores the verdict, passed or not; the status does not change. Promotion '
                         'ready -> live runs the same check and is refused with 409 {code: validation_failed, failed: '
                         '[{criterion, observed, required}], validation}.',
    'get_validation_policy': "The Judge's criteria (null: not checked), set by the operator.",
}
