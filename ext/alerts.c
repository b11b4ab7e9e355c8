/*-------------------------------------------------------------------------
 *
 * alerts.c
 *	  Unsubscribe tokens of alert deliveries (docs/alerts.md): signed, scoped to one subscription or
 *	  one channel.
 *
 * A token is base64url(kind || id || mac): kind is one byte ('s' a subscription, 'c' a channel), id the
 * 16 bytes of its uuid, mac the first 16 bytes of HMAC-SHA256(key, "ex7-unsubscribe" || 0x00 || kind ||
 * id). The key is ex7.secrets['alerts'], random per database and out of reach of ex7_user, so nobody
 * without it can make a token for a subscription or a channel, and a token names exactly one of them:
 * changing the id or the kind breaks the mac (sql/alerts.sql tries both). The comparison of macs is in
 * constant time, so a client cannot find a mac byte by byte from response times.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "base64url.h"

#include "common/hmac.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#define TOKEN_MAC_LEN	16		/* 128 bits: forging one takes 2^128 tries */
#define TOKEN_RAW_LEN	(1 + UUID_LEN + TOKEN_MAC_LEN)
#define TOKEN_TEXT_LEN	44		/* base64url of 33 bytes, unpadded */
#define TOKEN_LOC		"[\"query\",\"token\"]"

static uint8 *alerts_key = NULL;
static size_t alerts_key_len = 0;

/* load_alerts_key: returns nothing; fills alerts_key from ex7.secrets on first use in this backend. */
static void
load_alerts_key(void)
{
	if (alerts_key == NULL)
		alerts_key = ex7_secret("alerts", &alerts_key_len);
}

/* token_mac: returns nothing; writes TOKEN_MAC_LEN bytes of the mac of (kind, id) to out. */
static void
token_mac(uint8 kind, const uint8 *id, uint8 *out)
{
	static const char domain[] = "ex7-unsubscribe";
	pg_hmac_ctx *ctx;
	uint8		full[32];
	uint8		zero = 0;

	load_alerts_key();
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, alerts_key, alerts_key_len) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) domain, sizeof(domain) - 1) < 0 ||
		pg_hmac_update(ctx, &zero, 1) < 0 ||
		pg_hmac_update(ctx, &kind, 1) < 0 ||
		pg_hmac_update(ctx, id, UUID_LEN) < 0 ||
		pg_hmac_final(ctx, full, sizeof(full)) < 0)
		elog(ERROR, "could not compute unsubscribe token MAC");
	pg_hmac_free(ctx);
	memcpy(out, full, TOKEN_MAC_LEN);
}

/* token_kind: returns the kind byte for a kind name ('subscription' or 'channel'). */
static uint8
token_kind(const char *name)
{
	if (strcmp(name, "subscription") == 0)
		return 's';
	if (strcmp(name, "channel") == 0)
		return 'c';
	elog(ERROR, "unknown unsubscribe token kind \"%s\"", name);
	return 0;					/* keep the compiler quiet */
}

PG_FUNCTION_INFO_V1(alert_token);
Datum
alert_token(PG_FUNCTION_ARGS)
{
	char	   *kind_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pg_uuid_t  *id = PG_GETARG_UUID_P(1);
	uint8		raw[TOKEN_RAW_LEN];
	char		out[TOKEN_TEXT_LEN + 1];

	StaticAssertStmt(TOKEN_TEXT_LEN == (TOKEN_RAW_LEN + 2) / 3 * 4, "33 bytes are 44 characters");
	raw[0] = token_kind(kind_name);
	memcpy(raw + 1, id->data, UUID_LEN);
	token_mac(raw[0], id->data, raw + 1 + UUID_LEN);
	b64url_encode(raw, TOKEN_RAW_LEN, out);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

PG_FUNCTION_INFO_V1(alert_token_parse);
Datum
alert_token_parse(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	uint8		raw[TOKEN_RAW_LEN];
	size_t		rawlen;
	uint8		mac[TOKEN_MAC_LEN];
	uint8		diff = 0;
	pg_uuid_t  *id;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	/* 33 bytes are 11 whole groups of 3: exactly 44 characters, no padding, no unused bits */
	if (VARSIZE_ANY_EXHDR(t) != TOKEN_TEXT_LEN || !b64url_decode(s, TOKEN_TEXT_LEN, raw, &rawlen) ||
		rawlen != TOKEN_RAW_LEN)
		ex7_invalid(TOKEN_LOC, "invalid unsubscribe token", "value_error");
	if (raw[0] != 's' && raw[0] != 'c')
		ex7_invalid(TOKEN_LOC, "invalid unsubscribe token", "value_error");
	token_mac(raw[0], raw + 1, mac);
	for (int i = 0; i < TOKEN_MAC_LEN; i++)
		diff |= mac[i] ^ raw[1 + UUID_LEN + i];
	if (diff != 0)
		ex7_invalid(TOKEN_LOC, "invalid unsubscribe token", "value_error");

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	id = palloc(sizeof(pg_uuid_t));
	memcpy(id->data, raw + 1, UUID_LEN);
	values[0] = CStringGetTextDatum(raw[0] == 's' ? "subscription" : "channel");
	values[1] = UUIDPGetDatum(id);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
