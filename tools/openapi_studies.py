# tools/openapi_studies.py: OpenAPI texts of parameter studies and walk-forward (http/routes_studies.h), read by
# tools/openapi_gen.py. Shapes: docs/research.md ("Studies", "Walk-forward").
TAGS = [('/api/strategies/{strategy_id}/studies', 'Studies'), ('/api/studies', 'Studies')]
SUMMARY = {
    'create_study': 'Create Study', 'list_studies': 'List Studies', 'get_study': 'Get Study',
    'list_study_trials': 'List Study Trials', 'cancel_study': 'Cancel Study', 'resume_study': 'Resume Study',
    'apply_study': 'Apply Study', 'study_heatmap_svg': 'Study Heatmap', 'get_walk_forward': 'Get Walk-Forward',
    'study_walk_forward_svg': 'Walk-Forward Chart',
}
RESULT = {
    'create_study': 'Study', 'list_studies': 'StudyList', 'get_study': 'Study', 'list_study_trials': 'StudyTrialPage',
    'cancel_study': 'Study', 'resume_study': 'Study', 'apply_study': 'AppliedVersion', 'get_walk_forward': 'WalkForward',
}
BODY = {'create_study': 'StudyRequest', 'apply_study': 'StudyApply'}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_int = {'type': 'integer'}
_nint = {'type': ['integer', 'null']}
_uuid = {'type': 'string', 'format': 'uuid'}
_nuuid = {'type': ['string', 'null'], 'format': 'uuid'}
_ndec = {'type': ['string', 'null'], 'description': 'exact decimal'}
_map = {'type': 'object'}
_nmap = {'type': ['object', 'null']}
_num_or_inf = {'type': ['number', 'string', 'null'], 'description': 'a number; "Infinity" for a profit factor without losses; null when undefined'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_statement = _obj(rule={'type': 'string', 'const': 'CFTC Rule 4.41(b)(1)(i)'},
                  text={'type': 'string', 'description': 'the hypothetical-performance statement, verbatim'})
_range = _obj(**{'from': _ts}, to=_ts)
SCHEMAS = {
    'StudyRequest': {
        'type': 'object', 'required': ['from', 'to', 'space', 'objective'], 'additionalProperties': False,
        'properties': {
            'from': {**_ts, 'description': 'bars closing after this time...'},
            'to': {**_ts, 'description': '...and at or before this one'},
            'version': {'type': 'integer', 'minimum': 1, 'description': 'the strategy version (default: current)'},
            'initial_capital': {'type': ['string', 'number']}, 'risk_free_rate': {'type': ['string', 'number']},
            'risk_gate': {'type': 'boolean'}, 'evaluation': {'enum': ['exact', 'fast']},
            'keep_trades': {'type': 'boolean', 'description': 'store every trial\'s trades and whole curve (default '
                            'false: a trial stores its result and a daily curve; a walk-forward\'s out-of-sample '
                            'runs keep everything)'},
            'space': {'type': 'object', 'required': ['parameters'], 'additionalProperties': False, 'properties': {
                'parameters': {'type': 'object', 'description': '"<node id>.<parameter>": {min, max, step} or {values: [...]}; 1 to 6',
                               'additionalProperties': {'type': 'object'}},
                'constraints': {'type': 'array', 'items': {'type': 'string'},
                                'description': '"<parameter> <op> <parameter or number>", op one of < <= > >= !='}}},
            'search': {'type': 'object', 'additionalProperties': False, 'properties': {
                'method': {'enum': ['grid', 'random']}, 'trials': {'type': 'integer', 'minimum': 1},
                'seed': {'type': 'integer', 'minimum': 0}}},
            'objective': {'type': 'object', 'required': ['metric'], 'additionalProperties': False, 'properties': {
                'metric': {'enum': ['net_pnl', 'sharpe', 'sortino', 'profit_factor']},
                'max_drawdown': {'type': ['string', 'number'], 'description': 'money: trials whose run drew down more are infeasible'}}},
            'walk_forward': {'type': 'object', 'required': ['mode', 'in_sample_days', 'out_of_sample_days'],
                             'additionalProperties': False, 'properties': {
                                 'mode': {'enum': ['rolling', 'anchored']}, 'in_sample_days': {'type': 'integer'},
                                 'out_of_sample_days': {'type': 'integer'}, 'step_days': {'type': 'integer'}}}}},
    'StudyApply': {'type': 'object', 'additionalProperties': False,
                   'properties': {'trial': {'type': 'integer', 'minimum': 1, 'description': 'default: the best feasible trial'}}},
    'StudyTrial': _obj(
        trial_no=_int, values=_nmap, window=_nint, phase={'enum': [None, 'in_sample', 'out_of_sample']},
        **{'from': _ts}, to=_ts, status={'enum': ['waiting', 'pending', 'running', 'done', 'failed']},
        backtest_id=_nuuid, objective=_num_or_inf, feasible={'type': ['boolean', 'null']}, metrics=_nmap,
        error={'type': ['string', 'null']}, started_at=_nts, finished_at=_nts),
    'StudyItem': _obj(
        id=_uuid, strategy_id=_uuid, strategy_version=_int, kind={'enum': ['grid', 'random', 'walk_forward']},
        search=_map, objective=_map, **{'from': _ts}, to=_ts, params=_map, keep_trades={'type': 'boolean'},
        walk_forward=_nmap, status={'enum': ['queued', 'running', 'cancelled', 'done', 'failed']},
        progress=_obj(trials_done=_int, trials_total=_int, percent={'type': 'number'}),
        best={'oneOf': [_ref('StudyTrial'), {'type': 'null'}]}, applied_version=_nint, result=_nmap,
        error={'type': ['string', 'null']}, created_at=_ts, started_at=_nts, finished_at=_nts, compliance=_statement),
    'Study': {'allOf': [_ref('StudyItem'), _obj(space=_map)]},
    'StudyList': _obj(items={'type': 'array', 'items': _ref('StudyItem')}, next_cursor={'type': ['string', 'null']},
                      compliance=_statement),
    'StudyTrialPage': _obj(items={'type': 'array', 'items': _ref('StudyTrial')}, next_cursor={'type': ['string', 'null']},
                           compliance=_statement),
    'AppliedVersion': {'allOf': [_ref('VersionWithGraph'), _obj(study_id=_uuid, trial_no=_int, values=_map)]},
    'WalkForward': _obj(
        study_id=_uuid, status={'enum': ['queued', 'running', 'cancelled', 'done', 'failed']}, walk_forward=_map,
        windows={'type': 'array', 'items': _obj(
            window=_int, in_sample=_range, out_of_sample=_range, values=_nmap, in_sample_trial=_nint,
            out_of_sample_trial=_int, out_of_sample_backtest_id=_nuuid,
            status={'enum': ['waiting', 'pending', 'running', 'done', 'failed']}, error={'type': ['string', 'null']},
            in_sample_objective=_num_or_inf, out_of_sample_objective=_num_or_inf, in_sample_net_pnl=_ndec,
            out_of_sample_net_pnl=_ndec, in_sample_days={'type': 'number'}, out_of_sample_days={'type': 'number'},
            efficiency={'type': ['number', 'null']})},
        windows_tested=_int, in_sample_net_pnl=_ndec, out_of_sample_net_pnl=_ndec,
        efficiency={'type': ['number', 'null'], 'description': 'walk-forward efficiency (Pardo): annualized out-of-sample over annualized in-sample net P&L; null when in-sample is not profitable'},
        equity={'type': 'array', 'items': _obj(ts=_ts, equity={'type': 'string'})}, compliance=_statement),
}
DESCRIPTION = {
    'create_study': "Creates a parameter study of the strategy version's node parameters: a grid, or a seeded random search, "
                    'over the backtest period, ranked by the objective (infeasible trials, over max_drawdown, rank after '
                    'every feasible one); or a walk-forward (walk_forward: rolling or anchored windows, each optimised '
                    'in sample and tested out of sample). Every trial is a backtest. 201 with the study, queued: '
                    "background workers (the tier's study_workers_max) run the trials; poll GET /api/studies/{id} or "
                    'follow study_progress on the stream. 422 with a locator into the body for a bad space.',
    'list_studies': 'The studies of a strategy, newest first, without their space; keyset pages (cursor).',
    'get_study': 'A study: status, progress (trials done of total, percent), the best trial so far, the result once done '
                 '(the best values, the deflated Sharpe ratio, PBO), and the CFTC Rule 4.41 statement.',
    'list_study_trials': 'The trials of a study in trial_no order (the order they are enumerated and run); keyset pages.',
    'cancel_study': 'Stops a queued or running study: no trial is claimed any more and a running one stops within a chunk '
                    'of bars (it runs again on resume). 409 when the study has already finished.',
    'resume_study': 'Runs the pending trials of a cancelled or failed study again on background workers; finished trials are '
                    'kept. 409 when it is queued, running or done.',
    'apply_study': 'Makes the best feasible trial\'s values (or those of {"trial": n}) a new version of the strategy (the '
                   "study version's graph with the values substituted, saved as an update would) and answers 201 with it.",
    'study_heatmap_svg': 'The objective over two parameters (x, y; default the first two) as an SVG heatmap: each cell the best '
                         'feasible trial with those values, with the CFTC Rule 4.41 statement under it.',
    'get_walk_forward': 'A walk-forward study\'s windows (ranges, chosen values, in- and out-of-sample objective and net P&L, '
                        'efficiency), the stitched out-of-sample equity curve and the walk-forward efficiency.',
    'study_walk_forward_svg': 'The stitched out-of-sample equity curve with the window boundaries, as an SVG picture with the '
                              'CFTC Rule 4.41 statement under it.',
}
