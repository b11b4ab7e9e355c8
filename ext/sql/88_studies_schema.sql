/* ext/sql/88_studies_schema.sql: parameter studies and walk-forward analysis (docs/research.md, "Studies"
 * and "Walk-forward"). DDL only: new in 0.3.0, included whole by ext/upgrade/0.2.0--0.3.0.sql.
 *
 * A study runs many backtests of one strategy version, each with other values of some node parameters
 * (a trial). A trial IS a backtest: a row of ex7.backtests with purpose 'study' and its own graph (the
 * version's graph with the trial's values substituted), run by the same C code (ext/backtest.c); so a
 * trial equals a stand-alone backtest of a version with that graph by construction (sql/studies.sql
 * checks it field by field). Per-user tables keyed (user_id, id), distributed by user on Citus.
 */

/* a trial's backtest carries its own graph; bt_begin reads COALESCE(b.graph, v.graph) */
ALTER TABLE ex7.backtests ADD COLUMN graph jsonb;
COMMENT ON COLUMN ex7.backtests.graph IS 'The graph run instead of the version''s: a study trial''s (the version''s graph with the trial''s parameter values substituted); NULL for every other backtest.';
ALTER TABLE ex7.backtests DROP CONSTRAINT backtests_purpose_check;
ALTER TABLE ex7.backtests ADD CONSTRAINT backtests_purpose_check
    CHECK (purpose IN ('user', 'validation', 'study') AND (graph IS NULL OR purpose = 'study'));
COMMENT ON COLUMN ex7.backtests.purpose IS 'user: POST /api/strategies/{id}/backtest; validation: run by the Judge; study: a trial of a study (docs/research.md).';
/*
 * Whether the run stored its trades and its whole curve. Every backtest does except a study's trials, which
 * do only when the study asks (keep_trades) or for a walk-forward's out-of-sample windows; the others store
 * no trade and a daily curve (the first point and each UTC day's last: what a trial's figures read). A
 * million-bar trial's trades are some 5 MB and its curve 0.7 MB, which a 1,000-trial study would write for
 * nothing (docs/research.md, "Studies"; docs/performance.md, "Parameter studies").
 */
ALTER TABLE ex7.backtests ADD COLUMN trades_kept boolean NOT NULL DEFAULT true;
ALTER TABLE ex7.backtests ADD CONSTRAINT backtests_trades_kept_check CHECK (trades_kept OR purpose = 'study');
COMMENT ON COLUMN ex7.backtests.trades_kept IS 'false for a study trial run without storing its trades, whose curve is daily (its first point and each UTC day''s last; the study did not ask for keep_trades); true for every other backtest (every trade, every point).';

CREATE TABLE ex7.studies (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL,
    strategy_version    integer NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('grid', 'random', 'walk_forward')),
    space               jsonb NOT NULL,     -- {parameters: {"node.param": {min, max, step} | {values}}, constraints}
    search              jsonb NOT NULL,     -- {method: grid} | {method: random, trials, seed}
    objective           jsonb NOT NULL,     -- {metric, max_drawdown?}
    range_from          timestamptz NOT NULL,
    range_to            timestamptz NOT NULL,
    params              jsonb NOT NULL,     -- the backtests' parameters: initial_capital, risk_free_rate, risk_gate, evaluation
    keep_trades         boolean NOT NULL DEFAULT false,
    walk_forward        jsonb,              -- {mode, in_sample_days, out_of_sample_days, step_days, windows: [...]}
    trials_total        integer NOT NULL CHECK (trials_total >= 1),
    trials_done         integer NOT NULL DEFAULT 0 CHECK (trials_done >= 0),
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'cancelled', 'done', 'failed')),
    best_trial          integer,
    applied_version     integer,
    result              jsonb,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at          timestamptz,
    launched_at         timestamptz,        -- when workers were last asked for (create, resume)
    finished_at         timestamptz,
    CHECK (range_to > range_from),
    CHECK ((kind = 'walk_forward') = (walk_forward IS NOT NULL)),
    PRIMARY KEY (user_id, id),
    CONSTRAINT studies_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    CONSTRAINT studies_strategy_version_fkey FOREIGN KEY (user_id, strategy_id, strategy_version)
        REFERENCES ex7.strategy_versions (user_id, strategy_id, version)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.studies', '');
COMMENT ON TABLE ex7.studies IS 'A parameter study (grid, seeded random search, or walk-forward) of a strategy version over a range: the space, the search, the objective, the backtests'' parameters, progress (trials_done of trials_total), status (queued, running, cancelled, done, failed), the best trial and the summary (result). Its trials are in ex7.study_trials.';
COMMENT ON COLUMN ex7.studies.best_trial IS 'trial_no of the best trial so far (feasible first, then by objective, then by trial_no); for a walk-forward study NULL (each window has its own).';
COMMENT ON COLUMN ex7.studies.keep_trades IS 'Whether every trial''s backtest stores its trades and whole curve (the body''s keep_trades); otherwise only a walk-forward''s out-of-sample trials do, and the others keep a daily curve (ex7.backtests.trades_kept).';
COMMENT ON COLUMN ex7.studies.applied_version IS 'The strategy version the last POST /api/studies/{id}/apply created.';
-- keyset order of ex7.list_studies
CREATE INDEX studies_strategy_idx ON ex7.studies (user_id, strategy_id, created_at DESC, id DESC);
-- the claim's and the reaper's scan: a user's studies that may still have work
CREATE INDEX studies_active_idx ON ex7.studies (user_id, created_at) WHERE status IN ('queued', 'running');

CREATE TABLE ex7.study_trials (
    user_id             uuid NOT NULL,
    study_id            uuid NOT NULL,
    trial_no            integer NOT NULL CHECK (trial_no >= 1),
    "values"            jsonb,              -- {"node.param": value, ...}; NULL for a walk-forward window's
                                            -- out-of-sample trial until its in-sample trials are done
    window_no           integer CHECK (window_no >= 1),
    phase               text CHECK (phase IN ('in_sample', 'out_of_sample')),
    range_from          timestamptz NOT NULL,
    range_to            timestamptz NOT NULL,
    bars_total          bigint NOT NULL,    -- the bars of the range, counted once per range at creation
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('waiting', 'pending', 'running', 'done', 'failed')),
    backtest_id         uuid,
    objective           float8,
    feasible            boolean,
    metrics             jsonb,
    error               text,
    started_at          timestamptz,
    finished_at         timestamptz,
    CHECK ((window_no IS NULL) = (phase IS NULL)),
    CHECK (status = 'waiting' OR "values" IS NOT NULL OR status = 'failed'),
    PRIMARY KEY (user_id, study_id, trial_no),
    CONSTRAINT study_trials_study_fkey FOREIGN KEY (user_id, study_id)
        REFERENCES ex7.studies (user_id, id) ON DELETE CASCADE,
    CONSTRAINT study_trials_backtest_fkey FOREIGN KEY (user_id, backtest_id) REFERENCES ex7.backtests (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.study_trials', '');
COMMENT ON TABLE ex7.study_trials IS 'The trials of a study: the parameter values, the range (a walk-forward window''s in-sample or out-of-sample part), status (waiting, pending, running, done, failed), the backtest that ran it, its objective, whether it met the drawdown constraint (feasible) and its metrics.';
-- the claim: a study's next pending trial
CREATE INDEX study_trials_pending_idx ON ex7.study_trials (user_id, study_id, trial_no) WHERE status = 'pending';
CREATE INDEX study_trials_backtest_idx ON ex7.study_trials (user_id, backtest_id);

/* Row-level security: as in 10_schema.sql, a bound role sees only its user's rows. */
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['studies', 'study_trials']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = ex7.current_user_id()) '
            'WITH CHECK (user_id = ex7.current_user_id())', t || '_own', t);
    END LOOP;
END
$$;

/*
 * The tier caps of studies: background workers a user's studies run on at once, and trials per study.
 * Added as in 79_hooks_schema.sql: seed rows still pristine are recorded again afterwards, so a restore
 * sees them as the install's.
 */
DO $$
DECLARE
    v_pristine text[];
BEGIN
    SELECT pg_catalog.array_agg(t.tier) INTO v_pristine FROM ex7.tiers t WHERE ex7._seed_row('tiers', t);
    ALTER TABLE ex7.tiers
        ADD COLUMN study_workers_max integer NOT NULL DEFAULT 1 CHECK (study_workers_max BETWEEN 1 AND 16),
        ADD COLUMN study_trials_max integer NOT NULL DEFAULT 1000 CHECK (study_trials_max BETWEEN 1 AND 1000);
    UPDATE ex7.tiers SET study_workers_max = CASE tier WHEN 'free' THEN 1 WHEN 'operator' THEN 2 ELSE 4 END,
                         study_trials_max = CASE tier WHEN 'free' THEN 200 ELSE 1000 END;
    INSERT INTO ex7.seed_rows (table_name, digest)
    SELECT 'tiers', ex7._row_digest(t) FROM ex7.tiers t WHERE t.tier = ANY (v_pristine)
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON COLUMN ex7.tiers.study_workers_max IS 'Background workers a user''s studies run on at once (1..16); also bounded by the server''s free worker slots.';
COMMENT ON COLUMN ex7.tiers.study_trials_max IS 'Trials one study may have (1..1000; walk-forward: per window); more is 422.';

/* the stream carries a study's progress (docs/stream.md): an event that names no signal */
ALTER TABLE ex7.signal_events DROP CONSTRAINT signal_events_kind_check;
ALTER TABLE ex7.signal_events ADD CONSTRAINT signal_events_kind_check
    CHECK (kind IN ('signal', 'signal_closed', 'risk_lock', 'trading_state', 'study_progress')
           AND (signal_id IS NOT NULL) = (kind IN ('signal', 'signal_closed')));
