/* ext/sql/66_backtest_schema.sql: backtests, their trades and equity curves, and the Judge's policy and
 * verdicts (docs/backtests.md). DDL: runs once; new in 0.2.0, included whole by
 * ext/upgrade/0.1.0--0.2.0.sql. */

CREATE TABLE ex7.backtests (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL,
    strategy_version    integer NOT NULL,
    instrument          text NOT NULL,
    timeframe           ex7.timeframe NOT NULL,
    range_from          timestamptz NOT NULL,
    range_to            timestamptz NOT NULL,
    params              jsonb NOT NULL DEFAULT '{}',
    purpose             text NOT NULL DEFAULT 'user' CHECK (purpose IN ('user', 'validation')),
    status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    bars_total          bigint,
    bars_done           bigint NOT NULL DEFAULT 0,
    result              jsonb,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    CHECK (range_to > range_from),
    PRIMARY KEY (user_id, id),  -- also the key of trades and curve chunks: a chunk belongs to its backtest's user
    CONSTRAINT backtests_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    CONSTRAINT backtests_strategy_version_fkey FOREIGN KEY (user_id, strategy_id, strategy_version)
        REFERENCES ex7.strategy_versions (user_id, strategy_id, version)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.backtests', '');
COMMENT ON TABLE ex7.backtests IS 'A strategy version run over the stored bars of (range_from, range_to]: parameters, status (queued, running, done, failed), progress in bars, the summary (result) and timings. Trades and the equity curve are in backtest_trade_chunks and backtest_equity_chunks (the views backtest_trades and backtest_equity).';
COMMENT ON COLUMN ex7.backtests.purpose IS 'user: POST /api/strategies/{id}/backtest; validation: run by the Judge.';
COMMENT ON COLUMN ex7.backtests.bars_done IS 'Bars of the range processed so far (committed every chunk by a background run).';
-- keyset order of ex7.list_backtests: (created_at DESC, id DESC) per user and strategy
CREATE INDEX backtests_strategy_idx ON ex7.backtests (user_id, strategy_id, created_at DESC, id DESC);
-- background runs still to finish (the per-user cap)
CREATE INDEX backtests_active_idx ON ex7.backtests (user_id) WHERE status IN ('queued', 'running');

/*
 * Trades and the equity curve are written once, by the run, and read whole (the backtest's JSON, its
 * metrics, the SVG). They are stored in chunks: one row per chunk of the run (up to 8,192 bars), one array
 * per column, stored uncompressed out of line. A row per trade cost about 4 us to store, the whole
 * backtest's time again for a million bars (docs/performance.md, "Backtests"); a row per chunk costs the
 * arrays. The views ex7.backtest_trades and ex7.backtest_equity below give the rows back, one per trade
 * and per point, with the columns the per-row tables had. The checks a row had hold for every element.
 */
CREATE TABLE ex7.backtest_trade_chunks (
    backtest_id         uuid NOT NULL,
    first_seq           integer NOT NULL CHECK (first_seq >= 1),  -- the seq of the first element
    user_id             uuid NOT NULL,     -- the backtest's user (the key below), for row security
    side                text[] NOT NULL,
    quantity            integer[] NOT NULL,
    entry_time          timestamptz[] NOT NULL,
    entry_price         numeric[] NOT NULL,
    stop_price          numeric[] NOT NULL,     -- an element is NULL when the trade had no stop
    target_price        numeric[] NOT NULL,     -- an element is NULL when the trade had no target
    exit_time           timestamptz[] NOT NULL,
    exit_price          numeric[] NOT NULL,
    exit_reason         text[] NOT NULL,
    gross_pnl           numeric[] NOT NULL,
    slippage_cost       numeric[] NOT NULL,
    commission          numeric[] NOT NULL,
    net_pnl             numeric[] NOT NULL,
    mae                 numeric[] NOT NULL,
    mfe                 numeric[] NOT NULL,
    PRIMARY KEY (user_id, backtest_id, first_seq),
    -- with row security's WITH CHECK, a role bound to a user can add chunks only to its own backtests
    CONSTRAINT backtest_trade_chunks_backtest_fkey FOREIGN KEY (user_id, backtest_id)
        REFERENCES ex7.backtests (user_id, id) ON DELETE CASCADE,
    -- one element per trade in every column, 1-based
    CONSTRAINT backtest_trade_chunks_columns CHECK (pg_catalog.array_ndims(side) = 1 AND pg_catalog.array_lower(side, 1) = 1
           AND pg_catalog.cardinality(quantity) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(entry_time) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(entry_price) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(stop_price) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(target_price) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(exit_time) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(exit_price) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(exit_reason) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(gross_pnl) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(slippage_cost) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(commission) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(net_pnl) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(mae) = pg_catalog.cardinality(side)
           AND pg_catalog.cardinality(mfe) = pg_catalog.cardinality(side)),
    -- what the per-row columns said: NOT NULL, and the values each column allows
    CONSTRAINT backtest_trade_chunks_side_reason CHECK (side <@ ARRAY['long', 'short']
           AND exit_reason <@ ARRAY['stop_loss', 'take_profit', 'exit_signal', 'reverse', 'end_of_range']),
    CONSTRAINT backtest_trade_chunks_quantity CHECK (pg_catalog.array_position(quantity, NULL) IS NULL
                                                     AND 0 < ALL (quantity)),
    CONSTRAINT backtest_trade_chunks_not_null CHECK (
           pg_catalog.array_position(entry_time, NULL) IS NULL AND pg_catalog.array_position(exit_time, NULL) IS NULL
           AND pg_catalog.array_position(entry_price, NULL) IS NULL AND pg_catalog.array_position(exit_price, NULL) IS NULL
           AND pg_catalog.array_position(gross_pnl, NULL) IS NULL AND pg_catalog.array_position(slippage_cost, NULL) IS NULL
           AND pg_catalog.array_position(commission, NULL) IS NULL AND pg_catalog.array_position(net_pnl, NULL) IS NULL),
    CONSTRAINT backtest_trade_chunks_excursions CHECK (pg_catalog.array_position(mae, NULL) IS NULL AND 0 <= ALL (mae)
           AND pg_catalog.array_position(mfe, NULL) IS NULL AND 0 <= ALL (mfe))
);
SELECT pg_catalog.pg_extension_config_dump('ex7.backtest_trade_chunks', '');
COMMENT ON TABLE ex7.backtest_trade_chunks IS 'The closed trades of a backtest, one row per chunk of the run, one array per column (element i is trade first_seq + i - 1). Read them through the view ex7.backtest_trades.';

CREATE TABLE ex7.backtest_equity_chunks (
    backtest_id         uuid NOT NULL,
    first_seq           integer NOT NULL CHECK (first_seq >= 1),
    user_id             uuid NOT NULL,
    ts                  timestamptz[] NOT NULL,
    equity              numeric[] NOT NULL,
    PRIMARY KEY (user_id, backtest_id, first_seq),
    CONSTRAINT backtest_equity_chunks_backtest_fkey FOREIGN KEY (user_id, backtest_id)
        REFERENCES ex7.backtests (user_id, id) ON DELETE CASCADE,
    CONSTRAINT backtest_equity_chunks_columns CHECK (pg_catalog.array_ndims(ts) = 1 AND pg_catalog.array_lower(ts, 1) = 1
           AND pg_catalog.cardinality(equity) = pg_catalog.cardinality(ts)
           AND pg_catalog.array_position(ts, NULL) IS NULL AND pg_catalog.array_position(equity, NULL) IS NULL)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.backtest_equity_chunks', '');
COMMENT ON TABLE ex7.backtest_equity_chunks IS 'The equity curve of a backtest, one row per chunk of the run (element i is point first_seq + i - 1). Read it through the view ex7.backtest_equity.';

-- written once and read whole: out of line without compression (compressing cost more than it saved)
ALTER TABLE ex7.backtest_trade_chunks
    ALTER COLUMN side SET STORAGE EXTERNAL, ALTER COLUMN quantity SET STORAGE EXTERNAL,
    ALTER COLUMN entry_time SET STORAGE EXTERNAL, ALTER COLUMN entry_price SET STORAGE EXTERNAL,
    ALTER COLUMN stop_price SET STORAGE EXTERNAL, ALTER COLUMN target_price SET STORAGE EXTERNAL,
    ALTER COLUMN exit_time SET STORAGE EXTERNAL, ALTER COLUMN exit_price SET STORAGE EXTERNAL,
    ALTER COLUMN exit_reason SET STORAGE EXTERNAL, ALTER COLUMN gross_pnl SET STORAGE EXTERNAL,
    ALTER COLUMN slippage_cost SET STORAGE EXTERNAL, ALTER COLUMN commission SET STORAGE EXTERNAL,
    ALTER COLUMN net_pnl SET STORAGE EXTERNAL, ALTER COLUMN mae SET STORAGE EXTERNAL,
    ALTER COLUMN mfe SET STORAGE EXTERNAL;
ALTER TABLE ex7.backtest_equity_chunks
    ALTER COLUMN ts SET STORAGE EXTERNAL, ALTER COLUMN equity SET STORAGE EXTERNAL;

/* the rows, as the per-row tables had them; security_invoker: the reader's row security applies */
CREATE VIEW ex7.backtest_trades WITH (security_invoker = true) AS
SELECT c.backtest_id, (c.first_seq + t.i - 1)::integer AS seq, c.user_id, t.side, t.quantity, t.entry_time,
       t.entry_price, t.stop_price, t.target_price, t.exit_time, t.exit_price, t.exit_reason, t.gross_pnl,
       t.slippage_cost, t.commission, t.net_pnl, t.mae, t.mfe
  FROM ex7.backtest_trade_chunks c
 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(c.side), pg_catalog.unnest(c.quantity), pg_catalog.unnest(c.entry_time),
                               pg_catalog.unnest(c.entry_price), pg_catalog.unnest(c.stop_price),
                               pg_catalog.unnest(c.target_price), pg_catalog.unnest(c.exit_time),
                               pg_catalog.unnest(c.exit_price), pg_catalog.unnest(c.exit_reason),
                               pg_catalog.unnest(c.gross_pnl), pg_catalog.unnest(c.slippage_cost),
                               pg_catalog.unnest(c.commission), pg_catalog.unnest(c.net_pnl),
                               pg_catalog.unnest(c.mae), pg_catalog.unnest(c.mfe))
       WITH ORDINALITY AS t (side, quantity, entry_time, entry_price, stop_price, target_price, exit_time,
                             exit_price, exit_reason, gross_pnl, slippage_cost, commission, net_pnl, mae, mfe, i);
COMMENT ON VIEW ex7.backtest_trades IS 'The closed trades of a backtest in exit order (seq), priced by ex7.compute_pnl (net of slippage and commission). mae / mfe: the largest adverse / favourable excursion while open, gross money, as magnitudes. Stored in ex7.backtest_trade_chunks.';

CREATE VIEW ex7.backtest_equity WITH (security_invoker = true) AS
SELECT c.backtest_id, (c.first_seq + p.i - 1)::integer AS seq, c.user_id, p.ts, p.equity
  FROM ex7.backtest_equity_chunks c
 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(c.ts), pg_catalog.unnest(c.equity)) WITH ORDINALITY AS p (ts, equity, i);
COMMENT ON VIEW ex7.backtest_equity IS 'The equity curve of a backtest: initial capital + realized net P&L + the open position marked gross at the bar''s close, sampled at every trade close and at the last bar of every UTC day, in time order (seq). Stored in ex7.backtest_equity_chunks.';

/* The Judge. One policy, the operator's: a criterion left NULL is not checked. Seeded with every
 * criterion NULL, so a fresh install promotes as before until the operator sets the criteria
 * (docs/backtests.md, "The Judge"). */
CREATE TABLE ex7.validation_policy (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    window_days         integer NOT NULL DEFAULT 90 CHECK (window_days BETWEEN 1 AND 3660),
    min_trades          integer CHECK (min_trades >= 0),
    max_drawdown        numeric CHECK (max_drawdown >= 0),
    min_profit_factor   numeric CHECK (min_profit_factor >= 0),
    min_net_pnl         numeric,
    min_win_rate        numeric CHECK (min_win_rate BETWEEN 0 AND 1),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- new in 0.3.0 (docs/research.md), after updated_at as the upgrade's ALTER TABLE puts them
    min_deflated_sharpe numeric CHECK (min_deflated_sharpe BETWEEN 0 AND 1),
    min_walk_forward_efficiency numeric
);
COMMENT ON TABLE ex7.validation_policy IS 'The Judge''s criteria for promoting a strategy to live (one row, the operator''s): a backtest of the current version over the window_days before the newest stored bar must meet every criterion that is not NULL.';
COMMENT ON COLUMN ex7.validation_policy.min_deflated_sharpe IS 'The deflated Sharpe ratio (a probability, 0..1) the validation backtest''s daily returns must reach, deflated by the trials of the study the version came from (docs/research.md).';
COMMENT ON COLUMN ex7.validation_policy.min_walk_forward_efficiency IS 'The walk-forward efficiency the strategy''s newest finished walk-forward study must reach (docs/research.md).';
-- a fixed updated_at, like every seed row (ext/sql/01_backup_schema.sql)
INSERT INTO ex7.validation_policy (id, updated_at) VALUES (true, '2026-01-01 00:00:00+00');
-- seeded: dumped only where changed since the install (ext/sql/01_backup_schema.sql, 98_seed_schema.sql)
SELECT pg_catalog.pg_extension_config_dump('ex7.validation_policy', 'WHERE NOT ex7._seed_row(''validation_policy'', validation_policy)');
CREATE TRIGGER validation_policy_seed_merge BEFORE INSERT ON ex7.validation_policy
    FOR EACH ROW EXECUTE FUNCTION ex7._seed_merge();

CREATE TABLE ex7.strategy_validations (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL,
    strategy_version    integer NOT NULL,
    backtest_id         uuid NOT NULL,
    passed              boolean NOT NULL,
    criteria            jsonb NOT NULL,
    observed            jsonb NOT NULL,
    failed              jsonb NOT NULL,
    trigger             text NOT NULL CHECK (trigger IN ('promotion', 'request')),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT strategy_validations_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    CONSTRAINT strategy_validations_backtest_fkey FOREIGN KEY (user_id, backtest_id) REFERENCES ex7.backtests (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.strategy_validations', '');
COMMENT ON TABLE ex7.strategy_validations IS 'The Judge''s verdicts: the policy applied, the observed values, the failed criteria, and the backtest they come from.';
CREATE INDEX strategy_validations_strategy_idx ON ex7.strategy_validations (user_id, strategy_id, created_at DESC, id DESC);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['backtests', 'backtest_trade_chunks', 'backtest_equity_chunks', 'strategy_validations']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = ex7.current_user_id()) '
            'WITH CHECK (user_id = ex7.current_user_id())', t || '_own', t);
    END LOOP;
END
$$;
