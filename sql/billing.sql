-- sql/billing.sql: tiers and caps, billing state, the Stripe requests the extension prepares and records,
-- the webhook's event handling (dedupe, order, handler errors), complimentary tiers (docs/billing.md)
\set u1 '00000000-0000-4000-8000-6c0000000011'
\set u2 '00000000-0000-4000-8000-6c0000000012'
\set u3 '00000000-0000-4000-8000-6c0000000013'
SELECT ex7.ensure_user(u, 'billing@example.com') IS NOT NULL AS ready FROM unnest(ARRAY[:'u1', :'u2', :'u3']::uuid[]) AS u;
SELECT ex7_test.accept_compliance(ARRAY[:'u1', :'u2']::uuid[]) AS accepted;

-- List Tiers: every tier, prices as decimal strings, every cap
SELECT jsonb_pretty(ex7.billing_tiers());

-- the caps: 403 tier_limit_reached, under the user row lock
BEGIN;
UPDATE ex7.tiers SET strategies_max = 1, running_runtimes_max = 1 WHERE tier = 'free';
SELECT ex7.promote_strategy(:'u1', (ex7.create_strategy(:'u1', '{"name": "one", "instrument": "MES", "timeframe": "5m"}') ->> 'id')::uuid) ->> 'status' AS one;
SELECT ex7_test.err(format('SELECT ex7.create_strategy(%L, %L)', :'u1', '{"name": "two", "instrument": "MES", "timeframe": "5m"}')) AS two;
SELECT ex7_test.err(format('SELECT ex7.clone_strategy(%L, %L)', :'u1', (SELECT id FROM ex7.strategies WHERE user_id = :'u1'))) AS clone;
SELECT ex7.start_runtime(:'u1', (SELECT id FROM ex7.strategies WHERE user_id = :'u1')) ->> 'status' AS started;
SELECT ex7.start_runtime(:'u1', (SELECT id FROM ex7.strategies WHERE user_id = :'u1')) ->> 'status' AS restarted;
UPDATE ex7.tiers SET strategies_max = 2 WHERE tier = 'free';
SELECT ex7.promote_strategy(:'u1', (ex7.create_strategy(:'u1', '{"name": "two", "instrument": "MES", "timeframe": "5m"}') ->> 'id')::uuid) ->> 'status' AS two;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', (SELECT id FROM ex7.strategies WHERE user_id = :'u1' AND name = 'two'))) AS second_runtime;
SELECT (ex7.billing_me(:'u1') -> 'usage') - 'requests_today' AS usage;
ROLLBACK;

-- checkout: the request the extension prepares (ex7d sends it to Stripe as is)
SELECT ex7_test.err(format('SELECT ex7.billing_checkout(%L, %L)', :'u1', '{"tier": "operator"}')) AS no_price;
BEGIN;
UPDATE ex7.tiers SET stripe_price_id = 'price_op' WHERE tier = 'operator';
SELECT ex7_test.err(format('SELECT ex7.billing_checkout(%L, %L)', :'u1', b)) AS bad
  FROM unnest(ARRAY['{}', '{"tier": "free"}', '{"tier": "gold"}', '{"tier": "operator", "coupon": "x"}']) AS b;
SELECT j - 'stripe' AS prepared, j #> '{stripe,method}' AS method, j #> '{stripe,path}' AS path,
       (j #>> '{stripe,idempotency_key}') ~ '^ex7-checkout-[0-9a-f]{32}$' AS key_ok
  FROM ex7.billing_checkout(:'u1', '{"tier": "operator"}', 'https://app.example/billing?tab=plan') AS r(j);
SELECT f ->> 0 AS name, f ->> 1 AS value
  FROM jsonb_array_elements(ex7.billing_checkout(:'u1', '{"tier": "operator"}', 'https://app.example/billing?tab=plan') #> '{stripe,form}') AS f;
SELECT ex7.billing_checkout(:'u1', '{"tier": "operator"}') #> '{stripe,idempotency_key}'
     = ex7.billing_checkout(:'u1', '{"tier": "operator"}') #> '{stripe,idempotency_key}' AS same_key_same_request;
SELECT ex7.billing_stripe_result(:'u1', 'checkout', '{"tier": "operator"}', '{"id": "cs_1", "url": "https://checkout.example/cs_1"}') AS checkout;
SELECT ex7_test.err(format('SELECT ex7.billing_stripe_result(%L, %L, %L, %L)', :'u1', 'checkout', '{}', '{"id": "cs_2"}')) AS no_url;
ROLLBACK;
SELECT ex7_test.err(format('SELECT ex7.billing_portal(%L)', :'u1')) AS portal_no_customer;
SELECT ex7_test.err(format('SELECT ex7.billing_cancel(%L)', :'u1')) AS cancel_no_subscription;

-- the webhook: checkout.session.completed links the customer and gives the tier. Event times: t0 is
-- a thousand seconds ago (our own calls record Stripe's answers as of now: older events are stale)
SELECT extract(epoch FROM now())::bigint - 1000 AS t0 \gset
SELECT ex7.stripe_apply_event(jsonb_build_object('id', 'evt_b1', 'type', 'checkout.session.completed', 'created', :t0,
    'data', jsonb_build_object('object', jsonb_build_object('id', 'cs_1', 'object', 'checkout.session', 'mode', 'subscription',
        'client_reference_id', :'u1', 'customer', 'cus_b1', 'subscription', 'sub_b1', 'payment_status', 'paid',
        'metadata', jsonb_build_object('user_id', :'u1', 'tier', 'operator'))))) AS completed;
SELECT tier FROM ex7.users WHERE id = :'u1';
-- the subscription's own events: tier from the price when it is a tier's, else from metadata
CREATE FUNCTION pg_temp.sub_event(p_id text, p_type text, p_created bigint, p_status text, p_cancel boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', p_id, 'type', p_type, 'created', p_created, 'data', jsonb_build_object('object',
        jsonb_build_object('id', 'sub_b1', 'object', 'subscription', 'customer', 'cus_b1', 'status', p_status,
            'cancel_at_period_end', p_cancel, 'current_period_end', 1782592000,
            'items', jsonb_build_object('data', jsonb_build_array(jsonb_build_object('price', jsonb_build_object('id', 'price_x')))),
            'metadata', jsonb_build_object('tier', 'strategist'))));
$$;
SELECT ex7.stripe_apply_event(pg_temp.sub_event('evt_b2', 'customer.subscription.updated', :t0 + 10, 'active')) ->> 'outcome' AS updated;
SELECT ex7.billing_me(:'u1') - 'usage' - 'caps' - 'day' AS me;
-- a replay changes nothing and says so; an older event arriving late is stale
SELECT ex7.stripe_apply_event(pg_temp.sub_event('evt_b2', 'customer.subscription.updated', :t0 + 10, 'canceled')) AS replay;
SELECT ex7.stripe_apply_event(pg_temp.sub_event('evt_b3', 'customer.subscription.updated', :t0 + 5, 'unpaid')) ->> 'outcome' AS older;
SELECT subscription_status, subscription_tier FROM ex7.billing_accounts WHERE user_id = :'u1';
-- dunning keeps the tier; payment restores the status
SELECT ex7.stripe_apply_event(jsonb_build_object('id', 'evt_b4', 'type', 'invoice.payment_failed', 'created', :t0 + 20,
    'data', jsonb_build_object('object', jsonb_build_object('id', 'in_1', 'customer', 'cus_b1', 'subscription', 'sub_b1')))) ->> 'outcome' AS failed;
SELECT subscription_status, (SELECT tier FROM ex7.users WHERE id = :'u1') FROM ex7.billing_accounts WHERE user_id = :'u1';
SELECT ex7.stripe_apply_event(jsonb_build_object('id', 'evt_b5', 'type', 'invoice.paid', 'created', :t0 + 30,
    'data', jsonb_build_object('object', jsonb_build_object('id', 'in_1', 'customer', 'cus_b1',
        'parent', jsonb_build_object('subscription_details', jsonb_build_object('subscription', 'sub_b1')),
        'lines', jsonb_build_object('data', jsonb_build_array(jsonb_build_object('period', jsonb_build_object('end', 1785000000)))))))) ->> 'outcome' AS paid;
SELECT subscription_status, current_period_end FROM ex7.billing_accounts WHERE user_id = :'u1';
-- our own cancel: Stripe's answer is recorded; cancelling again needs no call
-- (the idempotency key changes every ten minutes: its shape is shown, not its value)
SELECT jsonb_set(ex7.billing_cancel(:'u1') - 'context', '{stripe,idempotency_key}',
                 to_jsonb((ex7.billing_cancel(:'u1') #>> '{stripe,idempotency_key}') ~ '^ex7-cancel-[0-9a-f]{32}$')) AS cancel_request;
SELECT ex7.billing_stripe_result(:'u1', 'cancel', '{}', pg_temp.sub_event('x', 'x', 0, 'active', true) #> '{data,object}') ->> 'cancel_at_period_end' AS cancelling;
SELECT ex7.billing_cancel(:'u1') ? 'reply' AS answered_without_stripe;
SELECT ex7.billing_resume(:'u1') #> '{stripe,form}' AS resume_form;
SELECT ex7.billing_portal(:'u1', 'https://app.example/b') #> '{stripe,form}' AS portal_form;
-- deleted: back to free
SELECT ex7.stripe_apply_event(pg_temp.sub_event('evt_b6', 'customer.subscription.deleted', :t0 + 2000, 'canceled')) ->> 'outcome' AS deleted;
SELECT tier FROM ex7.users WHERE id = :'u1';
-- other types, unknown customers: recorded and ignored
SELECT ex7.stripe_apply_event('{"id": "evt_b7", "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}') ->> 'outcome' AS other_type;
SELECT ex7.stripe_apply_event('{"id": "evt_b8", "type": "customer.subscription.updated", "data": {"object": {"id": "sub_z", "customer": "cus_z", "status": "active"}}}') ->> 'outcome' AS unknown_customer;
SELECT id, type, outcome, user_id IS NOT NULL AS has_user FROM ex7.stripe_events WHERE id LIKE 'evt_b%' ORDER BY id;
-- not an event: 400; a handler error rolls everything back, the event included (Stripe retries it)
SELECT ex7_test.err($$SELECT ex7.stripe_apply_event('{"type": "x"}')$$) AS no_id;
SELECT ex7_test.err($$SELECT ex7.stripe_apply_event('[1]')$$) AS not_object;
SELECT ex7_test.err(format('SELECT ex7.stripe_apply_event(%L)', jsonb_build_object('id', 'evt_b9', 'type', 'checkout.session.completed',
    'data', jsonb_build_object('object', jsonb_build_object('id', 'cs_9', 'client_reference_id', :'u2', 'customer', 'cus_b9',
        'metadata', jsonb_build_object('tier', 'platinum')))))) AS handler_error;
SELECT (SELECT count(*) FROM ex7.stripe_events WHERE id = 'evt_b9') AS recorded,
       (SELECT count(*) FROM ex7.billing_accounts WHERE user_id = :'u2') AS accounts;

-- comp: a tier for a period without payment; tier free ends it; an expired comp falls back
SELECT ex7_test.err(format('SELECT ex7.billing_comp(NULL, %L)', b)) AS bad_comp
  FROM unnest(ARRAY['{"tier": "operator"}', '{"user_id": "x", "tier": "operator"}', '{"user_id": "00000000-0000-4000-8000-6c0000000013", "tier": "gold"}',
                    '{"user_id": "00000000-0000-4000-8000-6c0000000013", "tier": "operator", "days": 0}',
                    '{"user_id": "00000000-0000-4000-8000-6c0000000013", "tier": "operator", "until": "2030-01-01"}']) AS b;
SELECT j ->> 'tier' AS tier, j ->> 'tier_source' AS source, j #>> '{comp,tier}' AS comp,
       (j #>> '{comp,until}')::timestamptz - now() BETWEEN interval '6 days 23 hours' AND interval '7 days' AS seven_days
  FROM ex7.billing_comp(NULL, jsonb_build_object('user_id', :'u3', 'tier', 'strategist', 'days', 7)) AS r(j);
UPDATE ex7.billing_accounts SET comp_until = now() - interval '1 second' WHERE user_id = :'u3';
-- before anything applies the end, every reader of the caps already counts the tier without the comp
SELECT ex7._current_tier(:'u3') AS current_tier, (SELECT tier FROM ex7.users WHERE id = :'u3') AS stored,
       ex7.vix_quota(:'u3') ->> 'tier' AS vix_tier;
SELECT ex7.billing_expire() AS expired;
SELECT tier FROM ex7.users WHERE id = :'u3';
SELECT ex7.billing_comp(NULL, jsonb_build_object('user_id', :'u3', 'tier', 'operator')) ->> 'tier' AS comped,
       ex7.billing_comp(NULL, jsonb_build_object('user_id', :'u3', 'tier', 'free')) ->> 'tier' AS ended;
-- ex7.ensure_user (the caps ex7d caches) says when a running comp ends, and applies one that has ended
SELECT ex7.billing_comp(NULL, jsonb_build_object('user_id', :'u3', 'tier', 'operator', 'days', 2)) ->> 'tier' AS comped_again;
SELECT j ->> 'tier' AS tier,
       (j ->> 'tier_until')::timestamptz = (SELECT comp_until FROM ex7.billing_accounts WHERE user_id = :'u3') AS until_is_comp_end,
       (j ->> 'tier_until_unix')::bigint = floor(extract(epoch FROM (j ->> 'tier_until')::timestamptz)) AS unix_agrees
  FROM ex7.ensure_user(:'u3') AS j;
UPDATE ex7.billing_accounts SET comp_until = now() - interval '1 second' WHERE user_id = :'u3';
SELECT j ->> 'tier' AS tier, j -> 'tier_until' AS tier_until FROM ex7.ensure_user(:'u3') AS j;
SELECT tier AS stored FROM ex7.users WHERE id = :'u3';
-- a role bound to the user may not write its tier: it reads the tier without the ended comp
SELECT ex7.billing_comp(NULL, jsonb_build_object('user_id', :'u3', 'tier', 'strategist', 'days', 2)) ->> 'tier' AS comped_third;
UPDATE ex7.billing_accounts SET comp_until = now() - interval '1 second' WHERE user_id = :'u3';
CREATE ROLE ex7_billing_role;
SELECT ex7.bind_role('ex7_billing_role', :'u3');
SET ROLE ex7_billing_role;
SELECT ex7.ensure_user(:'u3') ->> 'tier' AS ensured, ex7.billing_me(:'u3') ->> 'tier' AS me,
       ex7.vix_quota(:'u3') ->> 'tier' AS vix, (SELECT tier FROM ex7.users WHERE id = :'u3') AS stored;
RESET ROLE;
DELETE FROM ex7.role_bindings WHERE role_name = 'ex7_billing_role';
DROP OWNED BY ex7_billing_role;
DROP ROLE ex7_billing_role;
SELECT ex7.ensure_user(:'u3') ->> 'tier' AS ensured_by_owner;
SELECT tier AS stored FROM ex7.users WHERE id = :'u3';
-- a tier an operator set by hand stays while billing never touched the user
UPDATE ex7.users SET tier = 'strategist' WHERE id = :'u2';
SELECT ex7.billing_me(:'u2') ->> 'tier' AS tier, ex7.billing_me(:'u2') ->> 'tier_source' AS source;

-- what a role bound to a user may not call
SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'ex7' AND p.proname IN ('stripe_apply_event', 'billing_stripe_result', 'billing_comp', 'billing_expire', 'billing_me', 'accept_compliance')
   AND NOT has_function_privilege('ex7_user', p.oid, 'EXECUTE') ORDER BY 1;
