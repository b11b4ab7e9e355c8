-- ex7.set_tier_caps: the operator changes a tier's caps (and every front is told: ex7_user_changed '*').
SELECT ex7.ensure_user('00000000-0000-4000-8000-7c0000000001') -> 'limits' AS before;
SELECT ex7.set_tier_caps('free', '{"requests_per_minute": 45, "alerts_per_day": 25}') - 'stripe_price_id' AS caps;
-- the next read of the user's caps has them
SELECT ex7.ensure_user('00000000-0000-4000-8000-7c0000000001') -> 'limits' AS after;
-- bad input changes nothing
SELECT ex7_test.err($$SELECT ex7.set_tier_caps('gold', '{"requests_per_minute": 1}')$$) AS unknown_tier;
SELECT ex7_test.err($$SELECT ex7.set_tier_caps('free', '{"requests_per_minute": 1, "colour": "red"}')$$) AS unknown_cap;
SELECT ex7_test.err($$SELECT ex7.set_tier_caps('free', '{"rank": 7}')$$) AS rank_is_no_cap;
SELECT ex7_test.err($$SELECT ex7.set_tier_caps('free', '{"requests_per_minute": 0}')$$) AS below_one;
SELECT ex7_test.err($$SELECT ex7.set_tier_caps('free', '{"requests_per_minute": "many"}')$$) AS not_a_number;
SELECT ex7_test.err($$SELECT ex7.set_tier_caps('free', '{}')$$) AS empty;
SELECT requests_per_minute, alerts_per_day FROM ex7.tiers WHERE tier = 'free';
-- put it back
SELECT ex7.set_tier_caps('free', '{"requests_per_minute": 30, "alerts_per_day": 20}') ->> 'requests_per_minute' AS restored;
