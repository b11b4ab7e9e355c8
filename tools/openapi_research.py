# tools/openapi_research.py: OpenAPI texts of the research area (http/routes_research.h), read by
# tools/openapi_gen.py. Shapes: docs/research.md.
TAGS = [('/api/backtests/{backtest_id}/monte-carlo', 'Research')]
SUMMARY = {'monte_carlo': 'Backtest Monte Carlo', 'monte_carlo_svg': 'Backtest Monte Carlo Chart'}
RESULT = {'monte_carlo': 'MonteCarlo'}
BODY = {'monte_carlo': 'MonteCarloRequest'}
PARAM_ENUM = {('monte_carlo_svg', 'method'): ['shuffle', 'bootstrap']}
_dec = {'type': 'string', 'description': 'exact decimal, 2 places'}
_p3 = lambda: {'type': 'object', 'properties': {'p5': _dec, 'p50': _dec, 'p95': _dec}}
SCHEMAS = {
    'MonteCarloRequest': {
        'type': 'object', 'additionalProperties': False,
        'properties': {
            'method': {'enum': ['shuffle', 'bootstrap'], 'default': 'shuffle',
                       'description': 'shuffle: the same trades in a random order (the final equity does not change); '
                                      'bootstrap: as many trades drawn with replacement'},
            'runs': {'type': 'integer', 'minimum': 1, 'maximum': 100000, 'default': 1000,
                     'description': 'simulated sequences; runs x trades at most 100,000,000'},
            'seed': {'type': 'integer', 'minimum': 0, 'maximum': 2147483647, 'default': 1,
                     'description': 'the generator\'s seed (xoshiro256**): the same seed gives the same answer'},
            'drawdown_threshold': {'type': ['string', 'number'],
                                   'description': 'exact decimal > 0: the answer gives the share of runs whose max drawdown '
                                                  'reaches it'}}},
    'MonteCarlo': {'type': 'object', 'properties': {
        'backtest_id': {'type': 'string', 'format': 'uuid'}, 'method': {'enum': ['shuffle', 'bootstrap']},
        'runs': {'type': 'integer'}, 'seed': {'type': 'integer'}, 'trades': {'type': 'integer'},
        'initial_capital': _dec,
        'observed': {'type': 'object', 'properties': {'final_equity': _dec, 'max_drawdown': _dec},
                     'description': 'the backtest\'s own order of trades'},
        'final_equity': _p3(), 'max_drawdown': {**_p3(), 'description': 'largest fall from a running peak of the equity '
                                                                         'after each trade, in money'},
        'drawdown_threshold': {'type': ['string', 'null'], 'description': 'exact decimal, 2 places'},
        'probability_drawdown_beyond': {'type': ['number', 'null'],
                                        'description': 'share of runs whose max drawdown is at least the threshold'},
        'fan': {'type': 'array', 'description': 'percentiles of equity after trade number `trade` (0: the initial '
                                                'capital), at most 201 points',
                'items': {'type': 'object', 'properties': {'trade': {'type': 'integer'}, 'p5': _dec, 'p25': _dec,
                                                           'p50': _dec, 'p75': _dec, 'p95': _dec}}},
        'compliance': {'type': 'object', 'properties': {
            'rule': {'type': 'string', 'const': 'CFTC Rule 4.41(b)(1)(i)'},
            'text': {'type': 'string', 'description': 'the hypothetical-performance statement, verbatim'}}}}},
}
DESCRIPTION = {
    'monte_carlo': 'The Monte Carlo of a finished backtest\'s trades (net P&L in exit order, from its initial capital): '
                   'runs simulated sequences, reshuffled (shuffle) or resampled with replacement (bootstrap) from a seeded '
                   'generator; the 5th, 50th and 95th percentiles of final equity and max drawdown, the probability of a '
                   'drawdown beyond a threshold, and the fan of equity percentiles by trade (docs/research.md). Nothing '
                   'is stored. 409 while the backtest is not done (code backtest_not_done), and for a study trial run '
                   'without keeping its trades (code trades_not_kept). Hypothetical performance: carries the CFTC Rule 4.41 '
                   'statement.',
    'monte_carlo_svg': 'The Monte Carlo fan as an SVG picture: equity by trade number with the 5-95 and 25-75 percentile '
                       'bands, the median and the initial capital, and the CFTC Rule 4.41 statement under the chart.',
}
