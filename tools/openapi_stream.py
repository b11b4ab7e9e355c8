# tools/openapi_stream.py: OpenAPI texts of the signal stream's ticket (http/routes.c, POST
# /api/signals/stream/ticket), read by tools/openapi_gen.py. The stream itself (GET /api/signals/stream) and
# its `ticket` query parameter are written by openapi_gen.py's stream branch. Shapes and rules: docs/stream.md,
# "Tickets for browsers".
SUMMARY = {'create_stream_ticket': 'Create Signal Stream Ticket'}
RESULT = {'create_stream_ticket': 'StreamTicket'}
SCHEMAS = {
    # ex7.create_stream_ticket (ext/sql/84_stream_tickets.sql)
    'StreamTicket': {'type': 'object', 'properties': {
        'ticket': {'type': 'string', 'pattern': '^stk_[0-9a-f]{64}$',
                   'description': 'single-use: GET /api/signals/stream?ticket=<ticket> accepts it once, instead of the bearer token'},
        'expires_at': {'type': 'string', 'format': 'date-time'},
        'expires_in': {'type': 'integer', 'description': 'seconds the ticket stays valid (30)'}}},
}
DESCRIPTION = {
    'create_stream_ticket': 'A single-use ticket for the signal stream, for a browser\'s EventSource, which cannot send an '
                            'Authorization header (docs/stream.md, "Tickets for browsers"). Open GET /api/signals/stream?ticket=<ticket> '
                            'within expires_in seconds: the stream is the caller\'s, exactly as with the token. A ticket opens one '
                            'stream once; a reconnect needs a new one. Only its digest is stored, and ex7d never logs it. '
                            'At most 30 tickets of a user a minute (429 stream_tickets_rate_limited with retry_after).',
}
