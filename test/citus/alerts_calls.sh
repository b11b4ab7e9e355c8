#!/usr/bin/env bash
# test/citus/alerts_calls.sh DIR: on the Citus cluster tools/citus.sh started in DIR, the single-user API of
# alerts, notifications, compliance, billing and the account answers as on one server, and the cross-user work
# of the alerts outbox (the worker's claim and record, the providers' webhooks, unsubscribe links) runs as
# statements on one user's rows each (docs/citus-statements.md). A user's calls are made as ex7d sends them
# (SELECT ex7.f(args), which Citus delegates to the user's worker) and some again inside BEGIN ... COMMIT (run
# on the coordinator, statement by statement). One "ok - ..." / "not ok - ..." line per check.
set -uo pipefail
DIR=${1:?usage: test/citus/alerts_calls.sh DIR}
CHECK_PREFIX="alerts calls"
. "$(dirname "$0")/lib.sh"

A=$(q -c "SELECT pg_catalog.gen_random_uuid()")
B=$(q -c "SELECT pg_catalog.gen_random_uuid()")
q -c "SELECT ex7.ensure_user('$A')" -c "SELECT ex7.ensure_user('$B')" \
	-c "SELECT ex7.accept_compliance('$A', NULL, 'citus alerts')" -c "SELECT ex7.accept_compliance('$B', NULL, 'citus alerts')" \
	>/dev/null || { echo "not ok - alerts calls: two users with their compliance documents accepted"; exit 0; }
check "get_compliance" "true" "SELECT ex7.get_compliance('$A') ->> 'compliant'"
# one number for both users' sms channels: Twilio's STOP reaches both
PHONE=+1415555$(printf '%04d' $((RANDOM % 10000)))
EMAIL=$(q -c "SELECT ex7.create_channel('$A', '{\"type\": \"email\", \"destination\": \"a@example.com\"}') ->> 'id'")
SMS_A=$(q -c "SELECT ex7.create_channel('$A', '{\"type\": \"sms\", \"destination\": \"$PHONE\"}') ->> 'id'")
SMS_B=$(q -c "BEGIN" -c "SELECT ex7.create_channel('$B', '{\"type\": \"sms\", \"destination\": \"$PHONE\"}') ->> 'id'" -c "COMMIT" | head -1)
TG=$(q -c "SELECT ex7.create_channel('$A', '{\"type\": \"telegram\"}')")
for c in "$EMAIL" "$SMS_A" "$SMS_B"; do
	case "$c" in ????????-????-????-????-????????????) ;; *) echo "not ok - alerts calls: create_channel: $c"; exit 0 ;; esac
done
echo "ok - alerts calls: create_channel (email, sms of two users, telegram)"
check "create_channel of a destination the user has" "ERROR:  a channel with this destination exists" \
	"SELECT ex7.create_channel('$A', '{\"type\": \"email\", \"destination\": \"a@example.com\"}')"
code() { q -c "SELECT message ->> 'code' FROM ex7.alert_deliveries WHERE user_id = '$1' AND channel_id = '$2' AND event = 'verification'"; }
check "verify_channel, a wrong code" "422" "SELECT ex7.verify_channel('$A', '$EMAIL', '000000') ->> '_status'"
check "verify_channel" "verified" "SELECT ex7.verify_channel('$A', '$EMAIL', '$(code "$A" "$EMAIL")') ->> 'status'"
check_tx "verify_channel" "verified" "SELECT ex7.verify_channel('$A', '$SMS_A', '$(code "$A" "$SMS_A")') ->> 'status'"
check "verify_channel, B" "verified" "SELECT ex7.verify_channel('$B', '$SMS_B', '$(code "$B" "$SMS_B")') ->> 'status'"
check "list_channels" "3" "SELECT jsonb_array_length(ex7.list_channels('$A'))"
check "telegram /start" "ex7: this chat now receives your alerts." \
	"SELECT ex7.alerts_telegram_update(jsonb_build_object('message', jsonb_build_object('chat', jsonb_build_object('id', 4242),
	 'text', '/start ' || ('$TG'::jsonb #>> '{verification,start_token}')))) ->> 'text'"
SUB=$(q -c "SELECT ex7.create_subscription('$A', '{\"channel_id\": \"$EMAIL\"}') ->> 'id'")
q -c "SELECT ex7.create_subscription('$A', '{\"channel_id\": \"$SMS_A\"}')" -c "SELECT ex7.create_subscription('$B', '{\"channel_id\": \"$SMS_B\"}')" >/dev/null
check "create_subscription twice" "ERROR:  this channel already has a subscription for this strategy" \
	"SELECT ex7.create_subscription('$A', '{\"channel_id\": \"$EMAIL\"}')"
check "update_subscription" '["signal", "blocked"]' "SELECT ex7.update_subscription('$A', '$SUB', '{\"events\": [\"signal\", \"blocked\"]}') ->> 'events'"
check_tx "list_subscriptions" "2" "SELECT jsonb_array_length(ex7.list_subscriptions('$A'))"
# an event of each user: A's two channels, B's one (what a fired signal writes)
check "_alert_event" "2" "SELECT ex7._alert_event('$A', 'signal', NULL, 'signal:1', '{\"title\": \"t\", \"text\": \"x\"}')"
check "_alert_event again" "0" "SELECT ex7._alert_event('$A', 'signal', NULL, 'signal:1', '{\"title\": \"t\", \"text\": \"x\"}')"
check_tx "_alert_event" "1" "SELECT ex7._alert_event('$B', 'signal', NULL, 'signal:1', '{\"title\": \"t\", \"text\": \"x\"}')"
# the claim: the due rows of both users, locked user by user
# (the claim in a statement of its own: a query on a table around it would be sent to a shard with it)
q -c "SELECT ex7.outbox_claim('citus-w1', 1000)" >/dev/null
check "outbox_claim" "3" "SELECT count(*) FROM ex7.alert_deliveries
	WHERE user_id IN ('$A', '$B') AND event = 'signal' AND leased_by = 'citus-w1' AND attempts = 1"
D_EMAIL=$(q -c "SELECT id FROM ex7.alert_deliveries WHERE user_id = '$A' AND event = 'signal' AND channel_type = 'email'")
D_SMS=$(q -c "SELECT id FROM ex7.alert_deliveries WHERE user_id = '$B' AND event = 'signal'")
check "outbox_record of another worker" "true" "SELECT ex7.outbox_record('citus-w2', '$D_EMAIL', 200, '{\"id\": \"re_$A\"}') ->> 'stale'"
check "outbox_record" "sent" "SELECT ex7.outbox_record('citus-w1', '$D_EMAIL', 200, '{\"id\": \"re_$A\"}') ->> 'status'"
check_tx "outbox_record" "sent" "SELECT ex7.outbox_record('citus-w1', '$D_SMS', 201, '{\"sid\": \"SM$B\"}') ->> 'status'"
check "Resend delivered" "delivered" "SELECT ex7.alerts_resend_event('{\"type\": \"email.delivered\", \"data\": {\"email_id\": \"re_$A\"}}') ->> 'status'"
check "Resend hard bounce" "bounced" "SELECT ex7.alerts_resend_event('{\"type\": \"email.bounced\", \"data\": {\"email_id\": \"re_$A\"}}') ->> 'status'"
check "the bounce disabled the channel" "bounced" "SELECT disabled_reason FROM ex7.alert_channels WHERE user_id = '$A' AND id = '$EMAIL'"
q -c "SELECT ex7.alerts_twilio_event('{\"From\": \"$PHONE\", \"Body\": \"STOP\"}')" >/dev/null
check "Twilio STOP, every user's channel of the number" "2" \
	"SELECT count(*) FROM ex7.alert_channels WHERE destination = '$PHONE' AND disabled_reason = 'stopped'"
q -c "SELECT ex7.alerts_twilio_event('{\"From\": \"$PHONE\", \"Body\": \"START\"}')" >/dev/null
check "Twilio START" "0" "SELECT count(*) FROM ex7.alert_channels WHERE destination = '$PHONE' AND disabled_at IS NOT NULL"
TOKEN=$(q -c "SELECT ex7._alert_token('subscription', '$SUB')")
check "unsubscribe page" "t" "SELECT ex7.alerts_unsubscribe_page('$TOKEN') LIKE '%<form method=\"post\"%'"
check "unsubscribe" "f" "SELECT ex7.alerts_unsubscribe('$TOKEN') IS NULL"
check "the subscription is off" "f" "SELECT enabled FROM ex7.alert_subscriptions WHERE user_id = '$A' AND id = '$SUB'"
check "list_deliveries" "$(q -c "SELECT count(*) FROM ex7.alert_deliveries WHERE user_id = '$A'")" \
	"SELECT jsonb_array_length(ex7.list_deliveries('$A', p_limit => 200) -> 'items')"
check "get_delivery" "bounced" "SELECT ex7.get_delivery('$A', '$D_EMAIL') ->> 'status'"
check "delete_channel" "" "SELECT ex7.delete_channel('$A', '$SMS_A')"
# notifications (every event call wrote one)
NOTES=$(q -c "SELECT count(*) FROM ex7.notifications WHERE user_id = '$A'")
check "list_notifications" "$NOTES" "SELECT ex7.list_notifications('$A') ->> 'total'"
N=$(q -c "SELECT id FROM ex7.notifications WHERE user_id = '$A' LIMIT 1")
check "mark_notification_read" '{"success": true}' "SELECT ex7.mark_notification_read('$A', '$N')"
check_tx "mark_all_notifications_read" "{\"success\": true, \"updated\": $((NOTES - 1))}" \
	"SELECT ex7.mark_all_notifications_read('$A')"
check "set_notification_preferences" "false" \
	"SELECT ex7.set_notification_preferences('$A', '{\"notification_preferences\": {\"signal\": false}}') #>> '{notification_preferences,signal}'"
check_tx "set_notification_preferences again" "false" \
	"SELECT ex7.set_notification_preferences('$A', '{\"notification_preferences\": {\"system\": false}}') #>> '{notification_preferences,signal}'"
check "get_notification_preferences" "true" "SELECT ex7.get_notification_preferences('$A') #>> '{notification_preferences,blocked}'"
check "delete_notification" '{"success": true}' "SELECT ex7.delete_notification('$A', '$N')"
# billing: a comp that runs out, a Stripe subscription by webhook, the caps
check "billing_comp" "operator" "SELECT ex7.billing_comp('$B', '{\"user_id\": \"$A\", \"tier\": \"operator\", \"days\": 1}') ->> 'tier'"
q -c "UPDATE ex7.billing_accounts SET comp_until = now() - interval '1 minute' WHERE user_id = '$A'" >/dev/null
check "the ended comp counts no more" "free" "SELECT ex7._current_tier('$A')"
check "ensure_user applies it" "free" "SELECT ex7.ensure_user('$A') ->> 'tier'"
check "Stripe subscription event" "applied" "SELECT ex7.stripe_apply_event('{\"id\": \"evt_$A\",
	\"type\": \"customer.subscription.updated\", \"created\": $(date +%s), \"data\": {\"object\": {\"id\": \"sub_$A\",
	\"status\": \"active\", \"customer\": \"cus_$A\", \"metadata\": {\"user_id\": \"$A\", \"tier\": \"strategist\"}}}}') ->> 'outcome'"
check "billing_me" "strategist" "SELECT ex7.billing_me('$A') ->> 'tier'"
check_tx "billing_me" "subscription" "SELECT ex7.billing_me('$A') ->> 'tier_source'"
check "billing_cancel" "cancel" "SELECT ex7.billing_cancel('$A') ->> 'action'"
# the account: a password login and an exchange key through its rekey
LOGIN="citus-$A@example.com"
SU=$(q -c "SELECT ex7.auth_signup('$LOGIN', 'password123', '192.0.2.1') ->> 'sub'")
check "auth_login" "200" "SELECT ex7.auth_login('$LOGIN', 'password123', '192.0.2.1') ->> 'status'"
check "auth_change_password" "200" "SELECT ex7.auth_change_password('$SU', 'password123', 'password456', '192.0.2.1') ->> 'status'"
K=$(q -c "SELECT pg_catalog.gen_random_uuid()")
check "create_exchange_key" "binance" "SELECT ex7.create_exchange_key('$A', '$K', 'binance', 'k', '...abcd', false, 'citus-k1',
	'\\x0a0a0a0a0a0a0a0a0a0a0a0a', '\\xbeef', '\\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b') ->> 'exchange'"
check "_exchange_key_rekey" "t" "SELECT ex7._exchange_key_rekey('$K', 'citus-k1', 'citus-k2', '\\x0a0a0a0a0a0a0a0a0a0a0a0a',
	'\\xbeef', '\\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b')"
check_tx "delete_exchange_key" "true" "SELECT ex7.delete_exchange_key('$A', '$K') ->> 'deleted'"
