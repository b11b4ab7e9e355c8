/*-------------------------------------------------------------------------
 *
 * cursor.c
 *	  Opaque keyset cursors: encode and decode the (sort key, id) position of the last row of a page.
 *
 * A cursor is base64url(payload || mac) where payload = version byte 1, the timestamp as a big-endian
 * int64 of microseconds since the PostgreSQL epoch, then the id as text bytes; mac is the first 12 bytes
 * of HMAC-SHA256(key, kind || 0x00 || user uuid || payload). The kind ("strategies", "signals", "audit",
 * ...) and the acting user are bound into the MAC, so a cursor from another list or another user, a
 * truncated one or an edited one is refused with X7422 (never a 500 or a silent first page). The key is
 * ex7.secrets['cursor'], random per database, read once per backend.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "base64url.h"

#include "common/hmac.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define CURSOR_VERSION		1
#define CURSOR_MAC_LEN		12		/* 96 bits: forging one takes 2^96 tries */
#define CURSOR_MAX_ID_LEN	200
#define CURSOR_MAX_TEXT_LEN 512
#define CURSOR_LOC			"[\"query\",\"cursor\"]"

static uint8 *cursor_key = NULL;
static size_t cursor_key_len = 0;

/* load_cursor_key: returns nothing; fills cursor_key from ex7.secrets on first use in this backend. */
static void
load_cursor_key(void)
{
	if (cursor_key == NULL)
		cursor_key = ex7_secret("cursor", &cursor_key_len);
}

/*
 * cursor_mac: returns nothing; writes CURSOR_MAC_LEN bytes of the MAC of (kind, user, payload) to out.
 */
static void
cursor_mac(const char *kind, pg_uuid_t *user, const uint8 *payload, size_t len, uint8 *out)
{
	pg_hmac_ctx *ctx;
	uint8		full[32];
	uint8		zero = 0;

	load_cursor_key();
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, cursor_key, cursor_key_len) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) kind, strlen(kind)) < 0 ||
		pg_hmac_update(ctx, &zero, 1) < 0 ||
		pg_hmac_update(ctx, user->data, UUID_LEN) < 0 ||
		pg_hmac_update(ctx, payload, len) < 0 ||
		pg_hmac_final(ctx, full, sizeof(full)) < 0)
		elog(ERROR, "could not compute cursor MAC");
	pg_hmac_free(ctx);
	memcpy(out, full, CURSOR_MAC_LEN);
}

/*
 * bytes_equal_ct: returns true when a and b hold the same len bytes, in time independent of where
 * they differ.
 */
static bool
bytes_equal_ct(const uint8 *a, const uint8 *b, size_t len)
{
	uint8		diff = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

PG_FUNCTION_INFO_V1(cursor_encode);
Datum
cursor_encode(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pg_uuid_t  *user = PG_GETARG_UUID_P(1);
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(2);
	text	   *id = PG_GETARG_TEXT_PP(3);
	size_t		idlen = VARSIZE_ANY_EXHDR(id);
	size_t		plen = 1 + 8 + idlen;
	uint8	   *buf;
	char	   *out;
	uint64		uts = (uint64) ts;
	int			i;

	if (idlen > CURSOR_MAX_ID_LEN)
		elog(ERROR, "cursor id too long");
	buf = palloc(plen + CURSOR_MAC_LEN);
	buf[0] = CURSOR_VERSION;
	for (i = 0; i < 8; i++)
		buf[1 + i] = (uint8) (uts >> (56 - 8 * i));
	memcpy(buf + 9, VARDATA_ANY(id), idlen);
	cursor_mac(kind, user, buf, plen, buf + plen);
	out = palloc(b64url_encoded_len(plen + CURSOR_MAC_LEN) + 1);
	b64url_encode(buf, plen + CURSOR_MAC_LEN, out);

	PG_RETURN_TEXT_P(cstring_to_text(out));
}

PG_FUNCTION_INFO_V1(cursor_decode);
Datum
cursor_decode(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pg_uuid_t  *user = PG_GETARG_UUID_P(1);
	text	   *cur = PG_GETARG_TEXT_PP(2);
	size_t		clen = VARSIZE_ANY_EXHDR(cur);
	uint8	   *buf;
	size_t		n;
	uint8		mac[CURSOR_MAC_LEN];
	uint64		uts = 0;
	int			i;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	size_t		idlen;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "cursor_decode must return a record");

	if (clen == 0 || clen > CURSOR_MAX_TEXT_LEN)
		ex7_invalid(CURSOR_LOC, "invalid cursor", "value_error.cursor");
	buf = palloc(clen);
	if (!b64url_decode(VARDATA_ANY(cur), clen, buf, &n) || n < 1 + 8 + CURSOR_MAC_LEN ||
		buf[0] != CURSOR_VERSION)
		ex7_invalid(CURSOR_LOC, "invalid cursor", "value_error.cursor");

	cursor_mac(kind, user, buf, n - CURSOR_MAC_LEN, mac);
	if (!bytes_equal_ct(mac, buf + n - CURSOR_MAC_LEN, CURSOR_MAC_LEN))
		ex7_invalid(CURSOR_LOC, "invalid cursor", "value_error.cursor");

	for (i = 0; i < 8; i++)
		uts = (uts << 8) | buf[1 + i];
	idlen = n - CURSOR_MAC_LEN - 9;
	/* a MAC we made covers only text we encoded; checked anyway so no bad byte reaches a cast */
	if (!pg_verifymbstr((const char *) buf + 9, idlen, true))
		ex7_invalid(CURSOR_LOC, "invalid cursor", "value_error.cursor");

	values[0] = TimestampTzGetDatum((TimestampTz) uts);
	values[1] = PointerGetDatum(cstring_to_text_with_len((const char *) buf + 9, idlen));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
