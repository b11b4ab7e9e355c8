# tools/openapi_alerts.py: OpenAPI texts of the alerts area (http/routes_alerts.h): channels, subscriptions,
# deliveries, unsubscribe, provider webhooks, in-app notifications and price alerts, read by
# tools/openapi_gen.py. Shapes and rules: docs/alerts.md.
TAGS = [('/api/alerts/price', 'Price Alerts'), ('/api/alerts', 'Alerts'), ('/api/notifications', 'Notifications'),
        ('/api/profile', 'Notifications')]
SUMMARY = {
    'list_channels': 'List Channels', 'create_channel': 'Create Channel', 'delete_channel': 'Delete Channel',
    'resend_channel_verification': 'Resend Verification', 'verify_channel': 'Verify Channel',
    'list_deliveries': 'List Deliveries', 'get_delivery': 'Get Delivery',
    'list_subscriptions': 'List Subscriptions', 'create_subscription': 'Create Subscription',
    'delete_subscription': 'Delete Subscription', 'update_subscription': 'Patch Subscription',
    'alerts_unsubscribe_page': 'Unsubscribe Landing (public)', 'alerts_unsubscribe': 'Unsubscribe Confirm (public)',
    'alerts_resend_webhook': 'Resend Webhook (public, Svix-signed)',
    'alerts_email_webhook': 'Email Webhook (public, Svix-signed; the same as Resend Webhook)',
    'alerts_telegram_webhook': 'Telegram Webhook (public, shared secret)',
    'alerts_twilio_webhook': 'Twilio Webhook (public, X-Twilio-Signature)',
    'list_price_alerts': 'Get Alerts', 'create_price_alert': 'Create Alert', 'update_price_alert': 'Update Alert',
    'delete_price_alert': 'Delete Alert', 'list_price_alert_logs': 'Get Alert Logs',
    'delete_price_alert_log': 'Delete One Alert Log', 'delete_price_alert_logs': 'Delete All Alert Logs',
    'list_notifications': 'List Notifications', 'mark_all_notifications_read': 'Mark All Read',
    'mark_notification_read': 'Mark One Read', 'delete_notification': 'Delete Notification',
    'get_notification_preferences': 'Get Notification Preferences',
    'set_notification_preferences': 'Update Notification Preferences',
    'get_profile_preferences': 'Get Preferences', 'set_profile_preferences': 'Update Preferences',
}
RESULT = {
    'list_channels': 'ChannelList', 'create_channel': 'Channel', 'resend_channel_verification': 'Channel',
    'verify_channel': 'Channel', 'list_deliveries': 'DeliveryPage', 'get_delivery': 'Delivery',
    'list_subscriptions': 'SubscriptionList', 'create_subscription': 'Subscription', 'update_subscription': 'Subscription',
    'alerts_resend_webhook': 'ResendWebhookResult', 'alerts_email_webhook': 'ResendWebhookResult',
    'alerts_telegram_webhook': 'TelegramWebhookReply',
    'list_price_alerts': 'PriceAlertList', 'create_price_alert': 'PriceAlert', 'update_price_alert': 'PriceAlert',
    'list_price_alert_logs': 'PriceAlertLogPage', 'delete_price_alert_logs': 'Deleted',
    'list_notifications': 'NotificationPage', 'mark_all_notifications_read': 'Success',
    'mark_notification_read': 'Success', 'delete_notification': 'Success',
    'get_notification_preferences': 'NotificationPreferences', 'set_notification_preferences': 'NotificationPreferences',
    'get_profile_preferences': 'NotificationPreferences', 'set_profile_preferences': 'NotificationPreferences',
}
BODY = {
    'create_channel': 'ChannelCreate', 'create_subscription': 'SubscriptionCreate', 'update_subscription': 'SubscriptionPatch',
    'create_price_alert': 'PriceAlertCreate', 'update_price_alert': 'PriceAlertPatch',
    'set_notification_preferences': 'NotificationPreferences', 'set_profile_preferences': 'NotificationPreferences',
}
_ts = {'type': 'string', 'format': 'date-time'}
_nts = {'type': ['string', 'null'], 'format': 'date-time'}
_uuid = {'type': 'string', 'format': 'uuid'}
_nuuid = {'type': ['string', 'null'], 'format': 'uuid'}
_int = {'type': 'integer'}
_str = {'type': 'string'}
_nstr = {'type': ['string', 'null']}
_bool = {'type': 'boolean'}
_dec = {'type': 'string', 'description': 'exact decimal'}
_obj = lambda **p: {'type': 'object', 'properties': p}
_ref = lambda n: {'$ref': f'#/components/schemas/{n}'}
_arr = lambda n: {'type': 'array', 'items': _ref(n)}
# the risk events (risk_lock, trading_state: docs/protections.md, docs/trading-state.md) are in these lists too
_events = {'type': 'array', 'minItems': 1, 'items': {'enum': ['signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert',
                                                              'risk_lock', 'trading_state']}}
_ntypes = check_enum('notifications', 'type')
SCHEMAS = {
    'ChannelCreate': {'type': 'object', 'required': ['type'], 'properties': {
        'type': {'enum': ['email', 'telegram', 'sms', 'webhook']},
        'destination': {'type': 'string', 'description': 'email address; E.164 phone number (+14155550100); https URL of a '
                        'public host; telegram: optional @username or chat id (the chat that sends /start becomes it)'},
        'label': {'type': 'string', 'maxLength': 120}}},
    'Channel': _obj(id=_uuid, type={'enum': ['email', 'telegram', 'sms', 'webhook']}, destination=_nstr, label=_str,
                    verified=_bool, verified_at=_nts, status={'enum': ['pending', 'verified', 'disabled']},
                    disabled_reason={'enum': [None, 'bounced', 'complained', 'stopped', 'unsubscribed']},
                    verification={'type': ['object', 'null'], 'description': 'pending channels: {method: code, sent_at, '
                                  'expires_at, attempts_left} or {method: telegram_start, start_token, start_command, expires_at}'},
                    signing_secret={'type': ['string', 'null'], 'description': 'webhook channels: whsec_... key of the Svix '
                                    'signatures of every request sent to the URL'},
                    created_at=_ts, updated_at=_ts),
    'ChannelList': _arr('Channel'),
    'SubscriptionCreate': {'type': 'object', 'required': ['channel_id'], 'properties': {
        'channel_id': _uuid, 'strategy_id': {**_nuuid, 'description': 'null or absent: every strategy of the user'},
        'events': {**_events, 'description': 'default: all'}, 'enabled': {'type': 'boolean', 'default': True}}},
    'SubscriptionPatch': _obj(events=_events, enabled=_bool),
    'Subscription': _obj(id=_uuid, channel_id=_uuid, channel_type=_str, strategy_id=_nuuid, events=_events, enabled=_bool,
                         unsubscribed_at=_nts, created_at=_ts, updated_at=_ts),
    'SubscriptionList': _arr('Subscription'),
    'Delivery': _obj(id=_uuid, subscription_id=_nuuid, channel_id=_nuuid, channel_type=_str, strategy_id=_nuuid,
                     event={'enum': check_enum('alert_deliveries', 'event')},
                     title=_str,
                     status={'enum': ['queued', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'suppressed']},
                     reason={'enum': [None, 'quota', 'unsubscribed', 'unverified']}, attempts=_int, next_attempt_at=_nts,
                     provider_message_id=_nstr, last_error=_nstr, created_at=_ts, sent_at=_nts, updated_at=_ts),
    'DeliveryPage': _obj(items=_arr('Delivery'), next_cursor=_nstr),
    # ex7.alerts_resend_event (ext/sql/76_alerts.sql): delivery_id and status only when a delivery matched
    'ResendWebhookResult': _obj(ok=_bool, type=_str, matched=_bool, delivery_id={**_uuid, 'optional': True},
                                status={'enum': ['queued', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'suppressed'],
                                        'optional': True}),
    'TelegramWebhookReply': {'type': 'object', 'description': 'the webhook reply: a sendMessage Telegram runs (the '
                             'handshake\'s confirmation), or {action: ignored}'},
    'PriceAlertCreate': {'type': 'object', 'required': ['instrument', 'condition', 'level'], 'properties': {
        'instrument': _str, 'condition': {'enum': ['crosses_above', 'crosses_below', 'above', 'below']},
        'level': {'type': ['string', 'number'], 'description': 'exact decimal, positive'},
        'repeat': {'type': 'boolean', 'default': False}, 'timeframe': {'enum': TIMEFRAMES,
        'description': 'the bar series watched (default: the finest with bars, else 1m)'}, 'note': {'type': 'string', 'maxLength': 200}}},
    'PriceAlertPatch': _obj(condition={'enum': ['crosses_above', 'crosses_below', 'above', 'below']},
                            level={'type': ['string', 'number']}, repeat=_bool, active=_bool, note=_str),
    'PriceAlert': _obj(id=_uuid, instrument=_str, timeframe=_str, condition={'enum': ['crosses_above', 'crosses_below']},
                       level=_dec, repeat=_bool, active=_bool, note=_str, last_price={'type': ['string', 'null']},
                       last_bar_ts=_nts, triggered_count=_int, last_triggered_at=_nts, created_at=_ts, updated_at=_ts),
    'PriceAlertList': _arr('PriceAlert'),
    'PriceAlertLog': _obj(id=_int, alert_id=_nuuid, instrument=_str, condition=_str, level=_dec, price=_dec, timeframe=_str,
                          bar_ts=_ts, created_at=_ts),
    'PriceAlertLogPage': _obj(logs=_arr('PriceAlertLog'), total=_int),
    'Deleted': _obj(deleted=_int),
    'Notification': _obj(id=_uuid, type={'enum': _ntypes}, title=_str, message=_str, read_at=_nts, action_url=_nstr,
                         created_at=_ts, data={'type': 'object'}),
    'NotificationPage': _obj(notifications=_arr('Notification'), total=_int),
    # ext/sql/77_notifications.sql: updated (how many) from mark-all only
    'Success': _obj(success={'const': True}, updated={**_int, 'optional': True}),
    'NotificationPreferences': {'type': 'object', 'required': ['notification_preferences'], 'properties': {
        'success': _bool,
        'notification_preferences': {'type': 'object', 'properties': {t: _bool for t in _ntypes},
                                     'additionalProperties': False}}},
}
DESCRIPTION = {
    'create_channel': 'Starts verification: email and sms get a 6-digit code through the outbox (15 minutes, 5 tries); a '
                      'webhook gets a Svix-signed POST {type: channel.verification, data: {channel_id, code}}; telegram answers '
                      'with a start token: the user sends "/start <token>" to the bot. Only verified channels deliver. 409 '
                      'channel_exists or channel_limit (20); 412 until the compliance documents are accepted.',
    'resend_channel_verification': 'A new code (the old one stops working) or a new telegram start token. 429 {code: '
                                   'resend_too_soon | resend_limit, retry_after} within 60 s of the last send or after 5 '
                                   'sends in an hour; 409 already_verified.',
    'verify_channel': 'Body {"code"}. A wrong code is 422 at ["body","code"] with attempts_left and counts as a try; after 5 '
                      'wrong codes 429 until a new code is sent.',
    'delete_channel': 'Removes the channel and its subscriptions; the delivery history stays.',
    'create_subscription': 'Which events of one strategy (or all, strategy_id null) go to a channel. One per (channel, '
                           'strategy): 409 subscription_exists. 412 until the compliance documents are accepted.',
    'update_subscription': 'enabled true also clears unsubscribed_at (the user\'s answer to an unsubscribe link).',
    'list_deliveries': 'One delivery per (event, subscription), newest first, keyset cursor. Status queued, sent, delivered, '
                       'bounced, complained, failed or suppressed (reason quota, unsubscribed, unverified). The message body '
                       'is never returned (a verification message holds its code).',
    'alerts_unsubscribe_page': 'An HTML page naming what the signed token unsubscribes, with a button that POSTs. 422 for a '
                               'forged or edited token; 404 when its subscription or channel was deleted.',
    'alerts_unsubscribe': 'Confirms: the token from the query (RFC 8058 one-click POST), a JSON body {"token"} or a form field. '
                          'A subscription token disables that subscription, a channel token the channel. Idempotent. HTML.',
    'alerts_resend_webhook': 'Svix-signed (svix-id, svix-timestamp, svix-signature; 5 minutes tolerance) with '
                             'RESEND_WEBHOOK_SECRET, verified over the raw body before parsing: 400 otherwise, 503 when no secret '
                             'is configured. Updates the delivery with data.email_id: delivered, bounced, complained, failed '
                             '(never backwards); a hard bounce or a complaint disables the channel.',
    'alerts_email_webhook': 'The Resend Webhook under a provider-neutral path.',
    'alerts_telegram_webhook': 'The shared secret in ?secret= (as the reference\'s setWebhook URL) or the '
                               'X-Telegram-Bot-Api-Secret-Token header must equal TELEGRAM_WEBHOOK_SECRET, else 401. "/start '
                               '<token>" verifies the pending channel with that token; the chat becomes its destination. Other '
                               'updates are logged and ignored.',
    'alerts_twilio_webhook': 'Form-encoded. X-Twilio-Signature is checked when TWILIO_AUTH_TOKEN is set (403 otherwise). Status '
                             'callbacks (MessageSid, MessageStatus) update the delivery; STOP-type keywords disable the sms channels '
                             'of that number, START-type enable them, HELP is answered. TwiML reply.',
    'create_price_alert': 'Bar ingestion evaluates the alert on every new bar of its series: crosses_above fires when the '
                          'previous close was below the level and the bar\'s high reaches it (crosses_below alike). Each trigger '
                          'writes a log entry, a notification and deliveries to subscriptions with event price_alert; a one-shot '
                          'alert goes inactive.',
    'list_notifications': 'Newest first; type filter, unreadOnly=true, limit (1-200, default 50) and offset, with the total.',
    'set_notification_preferences': 'Body {"notification_preferences": {type: boolean}}; merged into the stored preferences. '
                                    'A type turned off is not written to the in-app list (deliveries follow subscriptions).',
}
