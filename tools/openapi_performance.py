# tools/openapi_performance.py: OpenAPI texts of the performance area (http/routes_performance.h), read by
# tools/openapi_gen.py. Shapes: docs/metrics.md.
TAGS = [('/api/performance', 'Performance'), ('/api/portfolio', 'Performance'), ('/api/dashboard', 'Performance'),
        ('/api/strategies/{strategy_id}/performance', 'Performance')]
SUMMARY = {
    'get_performance': 'Get Performance', 'get_portfolio': 'Get Portfolio', 'get_dashboard': 'Get Dashboard',
    'strategy_performance': 'Get Strategy Performance',
}
RESULT = {
    'get_performance': 'Performance', 'get_portfolio': 'Portfolio', 'get_dashboard': 'Dashboard',
    'strategy_performance': 'StrategyPerformance',
}
_dec = {'type': 'string', 'description': 'exact decimal'}
_ndec = {'type': ['string', 'null'], 'description': 'exact decimal'}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_ratio = {'type': ['number', 'null'], 'description': 'rounded to 6 decimals; null when undefined'}
_int = {'type': 'integer'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_opt = lambda **p: {**_obj(**p), 'optional': True, 'description': 'absent from GET /api/performance (its metrics omit breakdowns)'}
_group = _obj(key={'type': ['string', 'null']}, trades=_int, wins=_int, losses=_int, win_rate=_ratio, net_pnl=_dec,
              gross_profit=_dec, gross_loss=_dec)
SCHEMAS = {
    # ex7.compliance_banner() (ext/sql/55_events.sql)
    'ComplianceBanner': _obj(rule={'type': 'string', 'const': 'CFTC Rule 4.41(b)(1)(i)'},
                       text={'type': 'string', 'description': 'the hypothetical-performance statement, verbatim'}),
    'Metrics': {'type': 'object', 'description': 'ex7.compute_metrics (docs/metrics.md): money as decimal strings, ratios as numbers',
                'properties': {
        'trades': _int, 'winning_trades': _int, 'losing_trades': _int, 'breakeven_trades': _int,
        'initial_capital': _dec, 'final_equity': _dec, 'net_pnl': _dec, 'net_pnl_percent': _ratio,
        'total_return_percent': _ratio, 'gross_profit': _dec, 'gross_loss': _dec, 'win_rate': _ratio, 'loss_rate': _ratio,
        'avg_win': _ndec, 'avg_loss': _ndec, 'avg_trade': _ndec, 'expectancy': _ndec, 'largest_win': _ndec,
        'largest_loss': _ndec, 'profit_factor': _ratio, 'payoff_ratio': _ratio, 'max_consecutive_wins': _int,
        'max_consecutive_losses': _int, 'sharpe': _ratio, 'sortino': _ratio, 'annual_volatility': _ratio, 'cagr': _ratio,
        'calmar': _ratio, 'exposure': _ratio,
        'max_drawdown': _obj(amount=_dec, percent=_ratio, peak_equity=_ndec, start=_nts, trough=_nts, recovery=_nts,
                             duration={'type': 'integer', 'description': 'seconds from the peak to the recovery (or the end)'}),
        'returns': _obj(series={'const': 'daily_utc_weekdays'}, periods=_int, periods_per_year={'type': 'number'},
                        risk_free_rate=_dec),
        'span': _obj(start=_nts, end=_nts),
        'excursions': _obj(trades=_int, avg_mae=_ndec, max_mae=_ndec, avg_mfe=_ndec, max_mfe=_ndec,
                           avg_mae_winners=_ndec, avg_mfe_losers=_ndec),
        'breakdowns': _opt(by_day={'type': 'array', 'items': _group}, by_week={'type': 'array', 'items': _group},
                           by_month={'type': 'array', 'items': _group}, by_tag={'type': 'array', 'items': _group})}},
    'EquityPoint': _obj(ts=_ts, equity=_dec),
    'Performance': _obj(
        strategies={'type': 'array', 'items': _obj(
            strategy_id={'type': 'string', 'format': 'uuid'}, name={'type': 'string'}, instrument={'type': 'string'},
            timeframe={'type': 'string'}, status={'enum': check_enum('strategies', 'status')}, current_version=_int,
            backtest={'type': ['object', 'null'], 'properties': {
                'id': {'type': 'string', 'format': 'uuid'}, 'strategy_version': _int, 'purpose': {'type': 'string'},
                'range_from': _ts, 'range_to': _ts, 'finished_at': _ts,
                'summary': {'oneOf': [_ref('BacktestSummary'), {'type': 'null'}], 'description': 'the engine\'s run summary'},
                'metrics': _ref('Metrics')}},
            live=_obj(paper=_ref('Metrics'), live=_ref('Metrics')))},
        initial_capital=_dec, as_of=_ts, disclaimer=_ref('ComplianceBanner')),
    # ex7.portfolio (ext/sql/69_performance.sql): today's counts, and the cumulative ones with gross profit and loss
    'PortfolioToday': _obj(signals_taken=_int, closed=_int, force_closed=_int, wins=_int, losses=_int,
                           realized_pnl=_dec, win_rate=_ratio),
    'PortfolioCounts': _obj(signals_taken=_int, closed=_int, force_closed=_int, wins=_int, losses=_int,
                            realized_pnl=_dec, win_rate=_ratio, gross_profit=_dec, gross_loss=_dec),
    'Portfolio': _obj(mode={'enum': ['paper', 'live']}, trading_day_start=_ts, as_of=_ts,
                      today=_ref('PortfolioToday'), cumulative=_ref('PortfolioCounts'), open_positions=_int,
                      positions={'type': 'array', 'items': _ref('Signal')},
                      account={**_ref('PaperAccount'), 'description': 'the paper account of the mode (GET /api/account/paper)'},
                      disclaimer=_ref('ComplianceBanner')),
    'Dashboard': _obj(
        mode={'enum': ['paper', 'live']}, as_of=_ts,
        strategies={'type': 'array', 'items': _obj(
            strategy_id={'type': 'string', 'format': 'uuid'}, name={'type': 'string'}, status={'enum': check_enum('strategies', 'status')},
            runtime_status={'enum': [None, *check_enum('strategy_runtimes', 'status')]}, instrument={'type': 'string'}, timeframe={'type': 'string'},
            pnl=_dec, pnl_percent={'type': 'number'}, trade_count=_int, wins=_int, win_rate=_ratio, open_positions=_int,
            error_count=_int, runtime_error={'type': ['string', 'null']}, started_at=_nts, last_bar_ts=_nts)},
        aggregate=_obj(strategies=_int, total_pnl=_dec, total_pnl_percent=_ratio, total_trades=_int, win_rate=_ratio,
                       running_strategies=_int, error_strategies=_int, total_errors=_int, total_open_positions=_int),
        disclaimer=_ref('ComplianceBanner')),
    'StrategyPerformance': _obj(
        strategy_id={'type': 'string', 'format': 'uuid'}, name={'type': 'string'}, instrument={'type': 'string'},
        timeframe={'type': 'string'}, status={'enum': check_enum('strategies', 'status')}, mode={'enum': ['paper', 'live']}, **{'from': _nts},
        to=_nts, initial_capital=_dec, total_trades=_int, winning_trades=_int, losing_trades=_int, win_rate=_ratio,
        pnl=_dec, pnl_percent=_ratio, max_drawdown=_dec, max_drawdown_percent=_ratio, sharpe_ratio=_ratio,
        profit_factor=_ratio, expectancy=_ndec, metrics=_ref('Metrics'),
        equity_curve={'type': 'array', 'items': _ref('EquityPoint')}, disclaimer=_ref('ComplianceBanner')),
}
DESCRIPTION = {
    'get_performance': 'Per-strategy backtest performance and live stats: the newest finished backtest of each strategy beside '
                       'the statistics of its closed paper and live signals (ex7.compute_metrics on the starting capital of the '
                       'paper account of each mode, 10,000 USD until a reset; force-closes are not trades). Carries the CFTC '
                       'Rule 4.41 statement.',
    'get_portfolio': 'Portfolio summary for one mode: signals taken and closed today (the CME trading day from 18:00 New York, '
                     'as the risk gate counts it), cumulative realized P&L and win rate, the open positions, and the paper '
                     'account of the mode (starting capital, realized since its start, unrealized, equity).',
    'get_dashboard': 'Every strategy at a glance for one mode: status, runtime status, instrument, realized P&L, trade count, '
                     'win rate, open positions, runtime errors (audit errors of the last 24 hours and the runtime\'s error), '
                     'with totals.',
    'strategy_performance': 'Performance of one strategy from its signals closed in [from, to) (either end optional): the '
                            'summary fields, the full metrics and the equity curve (the capital plus realized P&L at every close '
                            'and UTC day end). Another user\'s strategy is 404.',
}
