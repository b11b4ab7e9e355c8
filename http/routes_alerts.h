/*
 * routes_alerts.h
 *	  Route table entries: Alert channels, subscriptions, deliveries, provider webhooks, notifications,
 *	  price alerts.
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h), so each
 *	  area keeps its routes in a file of its own; U and SQL() are the macros routes.c defines. Every
 *	  entry ends with a comma. Run tools/openapi_gen.py after changing it. See docs/alerts.md.
 */
	/* Alerts: channels (ext/sql/76_alerts.sql) */
	{EVHTTP_REQ_GET, "/api/alerts/channels", AUTH_USER, 200,
	 SQL("list_channels", "SELECT ex7.list_channels($1::uuid)", 1), {U}},
	{EVHTTP_REQ_POST, "/api/alerts/channels", AUTH_USER, 201,
	 SQL("create_channel", "SELECT ex7.create_channel($1::uuid, $2::jsonb)", 2), {U, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_DELETE, "/api/alerts/channels/{channel_id}", AUTH_USER, 204,
	 SQL("delete_channel", "SELECT ex7.delete_channel($1::uuid, $2::uuid)", 2), {U, {ARG_PATH_UUID, "channel_id", NULL}}},
	{EVHTTP_REQ_POST, "/api/alerts/channels/{channel_id}/resend", AUTH_USER, 200,
	 SQL("resend_channel_verification", "SELECT ex7.resend_channel_verification($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "channel_id", NULL}}},
	/* a wrong code is {"_status": 422, ...} from the function (the try is committed): alerts_soft_status */
	{EVHTTP_REQ_POST, "/api/alerts/channels/{channel_id}/verify", AUTH_USER, 200,
	 SQL("verify_channel", "SELECT ex7.verify_channel($1::uuid, $2::uuid, $3)", 3),
	 {U, {ARG_PATH_UUID, "channel_id", NULL}, {ARG_BODY_TEXT, "code", NULL}}, NULL, false, alerts_soft_status, .body_required = true},

	/* Alerts: deliveries */
	{EVHTTP_REQ_GET, "/api/alerts/deliveries", AUTH_USER, 200,
	 SQL("list_deliveries", "SELECT ex7.list_deliveries($1::uuid, $2::uuid, $3, $4::timestamptz, $5::timestamptz, $6, $7::int)", 7),
	 {U, {ARG_QUERY_UUID, "strategy_id", NULL}, {ARG_QUERY_TEXT, "status", NULL}, {ARG_QUERY_TS, "from", NULL},
	  {ARG_QUERY_TS, "to", NULL}, {ARG_QUERY_TEXT, "cursor", NULL}, {ARG_QUERY_INT, "limit", "50"}}},
	{EVHTTP_REQ_GET, "/api/alerts/deliveries/{delivery_id}", AUTH_USER, 200,
	 SQL("get_delivery", "SELECT ex7.get_delivery($1::uuid, $2::uuid)", 2), {U, {ARG_PATH_UUID, "delivery_id", NULL}}},

	/* Alerts: subscriptions */
	{EVHTTP_REQ_GET, "/api/alerts/subscriptions", AUTH_USER, 200,
	 SQL("list_subscriptions", "SELECT ex7.list_subscriptions($1::uuid, $2::uuid)", 2),
	 {U, {ARG_QUERY_UUID, "strategy_id", NULL}}},
	{EVHTTP_REQ_POST, "/api/alerts/subscriptions", AUTH_USER, 201,
	 SQL("create_subscription", "SELECT ex7.create_subscription($1::uuid, $2::jsonb)", 2), {U, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_DELETE, "/api/alerts/subscriptions/{sub_id}", AUTH_USER, 204,
	 SQL("delete_subscription", "SELECT ex7.delete_subscription($1::uuid, $2::uuid)", 2), {U, {ARG_PATH_UUID, "sub_id", NULL}}},
	{EVHTTP_REQ_PATCH, "/api/alerts/subscriptions/{sub_id}", AUTH_USER, 200,
	 SQL("update_subscription", "SELECT ex7.update_subscription($1::uuid, $2::uuid, $3::jsonb)", 3),
	 {U, {ARG_PATH_UUID, "sub_id", NULL}, {ARG_BODY, "body", NULL}}, .body_required = true},

	/* Unsubscribe (public: the signed token is the authorization). GET shows, POST confirms (also RFC 8058
	 * one-click: the token in the query, any body) */
	{EVHTTP_REQ_GET, "/api/alerts/unsubscribe", AUTH_PUBLIC, 200,
	 SQL("alerts_unsubscribe_page", "SELECT ex7.alerts_unsubscribe_page($1)", 1), {{ARG_QUERY_TEXT, "token", NULL}},
	 NULL, false, NULL, "text/html; charset=utf-8"},
	{EVHTTP_REQ_POST, "/api/alerts/unsubscribe", AUTH_PUBLIC, 200,
	 SQL("alerts_unsubscribe", "SELECT ex7.alerts_unsubscribe($1, $2)", 2),
	 {{ARG_QUERY_TEXT, "token", NULL}, {ARG_RAW_BODY, "body", NULL}}, NULL, false, NULL, "text/html; charset=utf-8"},

	/* Provider webhooks (public: the provider's signature or secret is checked first, http/alerts.c) */
	{EVHTTP_REQ_POST, "/api/alerts/webhooks/resend", AUTH_PUBLIC, 200,
	 SQL("alerts_resend_webhook", "SELECT ex7.alerts_resend_event($1::jsonb)", 1), {{ARG_RAW_BODY, "body", NULL}},
	 NULL, false, alerts_resend_webhook},
	{EVHTTP_REQ_POST, "/api/alerts/webhooks/email", AUTH_PUBLIC, 200,
	 SQL("alerts_email_webhook", "SELECT ex7.alerts_resend_event($1::jsonb)", 1), {{ARG_RAW_BODY, "body", NULL}},
	 NULL, false, alerts_resend_webhook},
	{EVHTTP_REQ_POST, "/api/alerts/webhooks/telegram", AUTH_PUBLIC, 200,
	 SQL("alerts_telegram_webhook", "SELECT ex7.alerts_telegram_update($1::jsonb)", 1),
	 {{ARG_RAW_BODY, "body", NULL}}, NULL, false, alerts_telegram_webhook},
	{EVHTTP_REQ_POST, "/api/alerts/webhooks/twilio", AUTH_PUBLIC, 200,
	 SQL("alerts_twilio_webhook", "SELECT ex7.alerts_twilio_event($1::jsonb)", 1), {{ARG_RAW_BODY, "body", NULL}},
	 NULL, false, alerts_twilio_webhook, "application/xml"},

	/* Price alerts and their log (ext/sql/78_price_alerts.sql); literal paths before {alert_id} */
	{EVHTTP_REQ_GET, "/api/alerts/price", AUTH_USER, 200,
	 SQL("list_price_alerts", "SELECT ex7.list_price_alerts($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "instrument", NULL}}},
	{EVHTTP_REQ_POST, "/api/alerts/price", AUTH_USER, 201,
	 SQL("create_price_alert", "SELECT ex7.create_price_alert($1::uuid, $2::jsonb)", 2), {U, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_GET, "/api/alerts/price/logs", AUTH_USER, 200,
	 SQL("list_price_alert_logs", "SELECT ex7.list_price_alert_logs($1::uuid, $2::uuid, $3::int, $4::int)", 4),
	 {U, {ARG_QUERY_UUID, "alert_id", NULL}, {ARG_QUERY_INT, "limit", "50"}, {ARG_QUERY_INT, "offset", "0"}}},
	{EVHTTP_REQ_DELETE, "/api/alerts/price/logs", AUTH_USER, 200,
	 SQL("delete_price_alert_logs", "SELECT ex7.delete_price_alert_logs($1::uuid)", 1), {U}},
	{EVHTTP_REQ_DELETE, "/api/alerts/price/logs/{log_id}", AUTH_USER, 204,
	 SQL("delete_price_alert_log", "SELECT ex7.delete_price_alert_log($1::uuid, $2::bigint)", 2),
	 {U, {ARG_PATH_INT, "log_id", NULL}}},
	{EVHTTP_REQ_PATCH, "/api/alerts/price/{alert_id}", AUTH_USER, 200,
	 SQL("update_price_alert", "SELECT ex7.update_price_alert($1::uuid, $2::uuid, $3::jsonb)", 3),
	 {U, {ARG_PATH_UUID, "alert_id", NULL}, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_DELETE, "/api/alerts/price/{alert_id}", AUTH_USER, 204,
	 SQL("delete_price_alert", "SELECT ex7.delete_price_alert($1::uuid, $2::uuid)", 2), {U, {ARG_PATH_UUID, "alert_id", NULL}}},

	/* In-app notifications (peer-capandex-api.txt, Notifications; ext/sql/77_notifications.sql) */
	{EVHTTP_REQ_GET, "/api/notifications", AUTH_USER, 200,
	 SQL("list_notifications", "SELECT ex7.list_notifications($1::uuid, $2, $3, $4::int, $5::int)", 5),
	 {U, {ARG_QUERY_TEXT, "type", NULL}, {ARG_QUERY_TEXT, "unreadOnly", NULL}, {ARG_QUERY_INT, "limit", "50"},
	  {ARG_QUERY_INT, "offset", "0"}}},
	{EVHTTP_REQ_PATCH, "/api/notifications", AUTH_USER, 200,
	 SQL("mark_all_notifications_read", "SELECT ex7.mark_all_notifications_read($1::uuid)", 1), {U}},
	{EVHTTP_REQ_GET, "/api/notifications/preferences", AUTH_USER, 200,
	 SQL("get_notification_preferences", "SELECT ex7.get_notification_preferences($1::uuid)", 1), {U}},
	{EVHTTP_REQ_PUT, "/api/notifications/preferences", AUTH_USER, 200,
	 SQL("set_notification_preferences", "SELECT ex7.set_notification_preferences($1::uuid, $2::jsonb)", 2),
	 {U, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_PATCH, "/api/notifications/{notification_id}", AUTH_USER, 200,
	 SQL("mark_notification_read", "SELECT ex7.mark_notification_read($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "notification_id", NULL}}},
	{EVHTTP_REQ_DELETE, "/api/notifications/{notification_id}", AUTH_USER, 200,
	 SQL("delete_notification", "SELECT ex7.delete_notification($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "notification_id", NULL}}},
	/* peer-capandex-api.txt, Profile & Preferences: the same preferences under the peer's path */
	{EVHTTP_REQ_GET, "/api/profile/preferences", AUTH_USER, 200,
	 SQL("get_profile_preferences", "SELECT ex7.get_notification_preferences($1::uuid)", 1), {U}},
	{EVHTTP_REQ_PUT, "/api/profile/preferences", AUTH_USER, 200,
	 SQL("set_profile_preferences", "SELECT ex7.set_notification_preferences($1::uuid, $2::jsonb)", 2),
	 {U, {ARG_BODY, "body", NULL}}, .body_required = true},
