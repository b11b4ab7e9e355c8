/*
 * keys.c
 *	  Exchange keys (peer-capandex-api.txt, "Exchange Keys": "The key and secret are encrypted with
 *	  AES-256-GCM before storage"; docs/account.md). ex7d holds the master keys (EX7_MASTER_KEYS =
 *	  "kid1:base64(32 bytes),kid0:...", the first one current) and the database stores only
 *	  {kid, iv, ciphertext, tag}: neither a master key nor a secret in clear ever reaches PostgreSQL, its
 *	  logs or its backups.
 *
 *	  Plaintext: the JSON {"api_key", "secret", "passphrase"}. AAD: "<user id>|<key id>|<exchange>", so a
 *	  ciphertext copied to another row or user does not decrypt. IV: 12 random bytes per encryption (NIST
 *	  SP 800-38D 8.2.2), tag 16 bytes. `ex7d rekey` re-encrypts every key under an older kid with the
 *	  current one, in batches, through service-only SQL functions.
 */
#include "auth.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define KEYS_MAX		16
#define KID_MAX			32
#define GCM_IV_LEN		12
#define GCM_TAG_LEN		16
#define FIELD_MAX		4096		/* a secret, an API key or a passphrase, in bytes */

typedef struct MasterKey
{
	char		kid[KID_MAX + 1];
	unsigned char key[32];
} MasterKey;

static MasterKey *masters;
static int	nmasters;

static const PoolStatement create_stmt = {
	"create_exchange_key_sql",
	"SELECT ex7.create_exchange_key($1::uuid, $2::uuid, $3, $4, $5, $6::boolean, $7, $8::bytea, $9::bytea, "
	"$10::bytea)", 10
};

/* b64_decode32: returns true when in is standard base64 of exactly 32 bytes, written to out. */
static bool
b64_decode32(const char *in, size_t len, unsigned char *out)
{
	unsigned char buf[64];
	int			n;

	if (len != 44 || in[43] != '=' || in[42] == '=')	/* 32 bytes: 43 characters and one '=' */
		return false;
	n = EVP_DecodeBlock(buf, (const unsigned char *) in, (int) len);
	if (n != 33)				/* EVP_DecodeBlock counts the padding as a zero byte */
		return false;
	memcpy(out, buf, 32);
	OPENSSL_cleanse(buf, sizeof(buf));
	return true;
}

int
keys_load(char *err, size_t errlen)
{
	const char *v = getenv("EX7_MASTER_KEYS");
	const char *p;
	size_t		used;

	nmasters = 0;
	if (v == NULL || *v == '\0')
		return 0;
	masters = calloc(KEYS_MAX, sizeof(MasterKey));
	for (p = v; *p;)
	{
		size_t		len = strcspn(p, ",");
		const char *colon = memchr(p, ':', len);
		size_t		kidlen = colon ? (size_t) (colon - p) : 0;
		bool		ok = colon != NULL && kidlen >= 1 && kidlen <= KID_MAX && nmasters < KEYS_MAX;

		for (size_t i = 0; ok && i < kidlen; i++)
			if (!isalnum((unsigned char) p[i]) && p[i] != '_' && p[i] != '-' && p[i] != '.')
				ok = false;
		if (ok)
		{
			memcpy(masters[nmasters].kid, p, kidlen);
			masters[nmasters].kid[kidlen] = '\0';
			for (int i = 0; i < nmasters; i++)
				if (strcmp(masters[i].kid, masters[nmasters].kid) == 0)
					ok = false;
		}
		if (ok)
			ok = b64_decode32(colon + 1, len - kidlen - 1, masters[nmasters].key);
		if (!ok)
		{
			/* never echo the value: it is key material */
			used = strlen(err);
			snprintf(err + used, errlen - used,
					 "EX7_MASTER_KEYS entry %d must be kid:base64 of 32 bytes (kid 1..32 of "
					 "A-Z a-z 0-9 _ - ., each kid once, at most %d keys)\n", nmasters + 1, KEYS_MAX);
			keys_free();
			return -1;
		}
		nmasters++;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void
keys_free(void)
{
	if (masters)
		OPENSSL_cleanse(masters, KEYS_MAX * sizeof(MasterKey));
	free(masters);
	masters = NULL;
	nmasters = 0;
}

/* master_find: returns the master key named kid, or NULL. */
static const MasterKey *
master_find(const char *kid)
{
	for (int i = 0; i < nmasters; i++)
		if (strcmp(masters[i].kid, kid) == 0)
			return &masters[i];
	return NULL;
}

/*
 * gcm: returns true after AES-256-GCM encrypting (enc) or decrypting in[len] into out[len] with key,
 * iv and aad; the tag is written when encrypting and checked when decrypting.
 */
static bool
gcm(bool enc, const unsigned char *key, const unsigned char *iv, const char *aad, const unsigned char *in,
	int len, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			n = 0;
	bool		ok;

	ok = ctx != NULL &&
		EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_IV_LEN, NULL) == 1 &&
		EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc ? 1 : 0) == 1 &&
		EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *) aad, (int) strlen(aad)) == 1 &&
		EVP_CipherUpdate(ctx, out, &n, in, len) == 1 && n == len;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(ctx, out + len, &n) == 1 && n == 0;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* hex_bytea: returns a malloc'd bytea literal \x<hex> of in[len]. */
static char *
hex_bytea(const unsigned char *in, size_t len)
{
	char	   *out = malloc(len * 2 + 3);

	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 + i * 2, "%02x", in[i]);
	return out;
}

/* unhex: returns the number of bytes decoded from hex text in (at most max), or -1. */
static int
unhex(const char *in, unsigned char *out, size_t max)
{
	size_t		len = strlen(in);

	if (len % 2 != 0 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++)
	{
		unsigned	b;

		if (!isxdigit((unsigned char) in[2 * i]) || !isxdigit((unsigned char) in[2 * i + 1]) ||
			sscanf(in + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char) b;
	}
	return (int) (len / 2);
}

/* random_key_id: returns nothing; a random (version 4) uuid in out[37]. */
static bool
random_key_id(char *out)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return false;
	b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return true;
}

/*
 * body_text: returns the string member name of body (NULL when absent or null), or sets *loc (a static
 * locator) when it is another type or longer than FIELD_MAX. Messages never contain the value.
 */
static const char *
body_text(json_object *body, const char *name, const char *alias, const char **loc, const char **msg)
{
	json_object *f = NULL;

	if (!json_object_object_get_ex(body, name, &f) && alias)
		json_object_object_get_ex(body, alias, &f);
	if (f == NULL || json_object_is_type(f, json_type_null))
		return NULL;
	if (!json_object_is_type(f, json_type_string))
	{
		*msg = "value is not a valid string";
		*loc = name;
		return NULL;
	}
	if (json_object_get_string_len(f) > FIELD_MAX)
	{
		*msg = "value is too long (at most 4096 bytes)";
		*loc = name;
		return NULL;
	}
	return json_object_get_string(f);
}

/*
 * POST /api/exchange-keys {exchange, label?, api_key (apiKey), secret, passphrase?}: values = the user,
 * the body. The secrets are encrypted here; ex7.create_exchange_key checks the exchange and label and
 * stores the ciphertext. No reply, error or log line contains a secret.
 */
void
keys_create_handler(Req *r, char **values)
{
	json_object *body = json_tokener_parse(values[1] ? values[1] : "{}");
	const char *loc = NULL;
	const char *msg = NULL;
	const char *exchange,
			   *label,
			   *api_key,
			   *secret,
			   *passphrase;
	char		exch[33];
	char		id[37];
	char		aad[160];
	char		hint[16];
	unsigned char iv[GCM_IV_LEN],
				tag[GCM_TAG_LEN];
	unsigned char *ct = NULL;
	char	   *plain = NULL;
	size_t		plen = 0;
	json_object *p = NULL;
	const MasterKey *mk = nmasters > 0 ? &masters[0] : NULL;

	if (mk == NULL)
	{
		json_object_put(body);
		reply_detail(r, 503, "exchange keys are not configured on this server (EX7_MASTER_KEYS)");
		return;
	}
	exchange = body_text(body, "exchange", NULL, &loc, &msg);
	label = body_text(body, "label", NULL, &loc, &msg);
	api_key = body_text(body, "api_key", "apiKey", &loc, &msg);
	secret = body_text(body, "secret", "api_secret", &loc, &msg);
	passphrase = body_text(body, "passphrase", NULL, &loc, &msg);
	if (loc == NULL)
	{
		msg = "field required";
		if (exchange == NULL || *exchange == '\0')
			loc = "exchange";
		else if (api_key == NULL || *api_key == '\0')
			loc = "api_key";
		else if (secret == NULL || *secret == '\0')
			loc = "secret";
		else if (strlen(exchange) > 32)
		{
			loc = "exchange";
			msg = "value is not a known exchange";
		}
	}
	if (loc)
	{
		char		l[64];

		snprintf(l, sizeof(l), "[\"body\", \"%s\"]", loc);
		reply_invalid(r, l, msg,
					  strcmp(msg, "field required") == 0 ? "value_error.missing" : "value_error");
		goto done;
	}
	for (size_t i = 0; i <= strlen(exchange); i++)
		exch[i] = (char) tolower((unsigned char) exchange[i]);
	if (!random_key_id(id) || RAND_bytes(iv, sizeof(iv)) != 1)
	{
		reply_detail(r, 500, "internal server error");
		goto done;
	}
	/* the hint: the last four characters of a long enough API key, masked (peer-capandex-api.txt's
	 * AI keys show "sk-ant-****"; four of at least twelve leave the key unguessable) */
	if (strlen(api_key) >= 12)
		snprintf(hint, sizeof(hint), "****%s", api_key + strlen(api_key) - 4);
	else
		snprintf(hint, sizeof(hint), "****");
	for (char *c = hint; *c; c++)
		if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f)
			*c = '*';			/* ASCII only: a hint is never a piece of a multibyte character */
	snprintf(aad, sizeof(aad), "%s|%s|%s", values[0], id, exch);

	p = json_object_new_object();
	json_object_object_add(p, "api_key", json_object_new_string(api_key));
	json_object_object_add(p, "secret", json_object_new_string(secret));
	json_object_object_add(p, "passphrase", passphrase ? json_object_new_string(passphrase) : NULL);
	plain = strdup(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
	plen = strlen(plain);
	ct = malloc(plen + 16);
	if (!gcm(true, mk->key, iv, aad, (unsigned char *) plain, (int) plen, ct, tag))
	{
		reply_detail(r, 500, "internal server error");
		goto done;
	}
	{
		char	   *hiv = hex_bytea(iv, sizeof(iv));
		char	   *hct = hex_bytea(ct, plen);
		char	   *htag = hex_bytea(tag, sizeof(tag));
		const char *v[10] = {values[0], id, exch, label, hint,
			passphrase && *passphrase ? "true" : "false", mk->kid, hiv, hct, htag};

		account_exec(r, &create_stmt, v);
		free(hiv);
		free(hct);
		free(htag);
	}
done:
	if (plain)
		OPENSSL_cleanse(plain, plen);
	free(plain);
	free(ct);
	/* json-c's copies of the secrets: wipe the strings before freeing the objects */
	if (p)
	{
		json_object_object_foreach(p, k, val)
		{
			(void) k;
			if (val && json_object_is_type(val, json_type_string))
				OPENSSL_cleanse((void *) json_object_get_string(val),
								(size_t) json_object_get_string_len(val));
		}
	}
	json_object_put(p);
	if (body)
	{
		json_object_object_foreach(body, k2, val2)
		{
			(void) k2;
			if (val2 && json_object_is_type(val2, json_type_string))
				OPENSSL_cleanse((void *) json_object_get_string(val2),
								(size_t) json_object_get_string_len(val2));
		}
	}
	json_object_put(body);
	if (values[1])
		OPENSSL_cleanse(values[1], strlen(values[1]));
}

/* ---------------------------------------------------------------------------------------------------
 * ex7d rekey
 * ------------------------------------------------------------------------------------------------- */

static const char rekey_usage[] =
	"usage: ex7d rekey [--batch N]\n"
	"  re-encrypts every exchange key stored under an older master key with the current one\n"
	"  (the first of EX7_MASTER_KEYS), N keys per batch (default 100). Keys under a kid that\n"
	"  EX7_MASTER_KEYS no longer lists are reported and left as they are. Connects to\n"
	"  DATABASE_URL (default: the make run cluster).\n";

/* rekey_one: returns 1 when row was re-encrypted, 0 when it was not there any more, -1 on failure. */
static int
rekey_one(PGconn *conn, json_object *row, const MasterKey *cur, long *unknown)
{
	json_object *f;
	const char *id = NULL,
			   *user = NULL,
			   *exch = NULL,
			   *kid = NULL,
			   *hiv = NULL,
			   *hct = NULL,
			   *htag = NULL;
	const MasterKey *old;
	unsigned char iv[GCM_IV_LEN],
				tag[GCM_TAG_LEN],
				niv[GCM_IV_LEN],
				ntag[GCM_TAG_LEN];
	unsigned char *ct,
			   *plain,
			   *nct;
	int			len;
	char		aad[160];
	int			rc = -1;

#define FIELD(var, name) \
	var = json_object_object_get_ex(row, name, &f) ? json_object_get_string(f) : NULL
	FIELD(id, "id");
	FIELD(user, "user_id");
	FIELD(exch, "exchange");
	FIELD(kid, "kid");
	FIELD(hiv, "iv");
	FIELD(hct, "ciphertext");
	FIELD(htag, "tag");
#undef FIELD
	if (!id || !user || !exch || !kid || !hiv || !hct || !htag)
		return -1;
	if ((old = master_find(kid)) == NULL)
	{
		ex7_log(EX7_WARN, "rekey_unknown_kid", "exchange key %s is under kid %s, which EX7_MASTER_KEYS does not "
				"list: left as it is", id, kid);
		(*unknown)++;
		return 0;
	}
	ct = malloc(strlen(hct) / 2 + 16);
	plain = malloc(strlen(hct) / 2 + 16);
	nct = malloc(strlen(hct) / 2 + 16);
	len = unhex(hct, ct, strlen(hct) / 2);
	snprintf(aad, sizeof(aad), "%s|%s|%s", user, id, exch);
	if (len > 0 && unhex(hiv, iv, sizeof(iv)) == GCM_IV_LEN &&
		unhex(htag, tag, sizeof(tag)) == GCM_TAG_LEN &&
		gcm(false, old->key, iv, aad, ct, len, plain, tag) &&
		RAND_bytes(niv, sizeof(niv)) == 1 &&
		gcm(true, cur->key, niv, aad, plain, len, nct, ntag))
	{
		char	   *a = hex_bytea(niv, sizeof(niv));
		char	   *b = hex_bytea(nct, (size_t) len);
		char	   *c = hex_bytea(ntag, sizeof(ntag));
		const char *v[6] = {id, kid, cur->kid, a, b, c};
		PGresult   *res = PQexecParams(conn,
									   "SELECT ex7._exchange_key_rekey($1::uuid, $2, $3, $4::bytea, "
									   "$5::bytea, $6::bytea)", 6, NULL, v, NULL, NULL, 0);

		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 : 0;
		else
		{
			const char *why = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

			ex7_log(EX7_ERROR, "rekey_failed", "exchange key %s: %s", id, why ? why : "failed");
		}
		PQclear(res);
		free(a);
		free(b);
		free(c);
	}
	else
		ex7_log(EX7_ERROR, "rekey_failed", "exchange key %s does not decrypt under kid %s", id, kid);
	if (len > 0)
		OPENSSL_cleanse(plain, (size_t) len);
	free(ct);
	free(plain);
	free(nct);
	return rc;
}

int
keys_rekey_main(int argc, char **argv)
{
	char		err[1024] = "";
	long		batch = 100;
	const char *url = getenv("DATABASE_URL");
	char	   *embedded = NULL;
	PGconn	   *conn;
	char		after[37] = "";
	long		done = 0,
				same = 0,
				failed = 0,
				unknown = 0;
	int			status = 0;

	for (int i = 2; i < argc; i++)
	{
		if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
			batch = atol(argv[++i]);
		else
		{
			fprintf(stderr, "%s", rekey_usage);
			return 2;
		}
	}
	if (batch < 1 || batch > 1000)
	{
		fprintf(stderr, "ex7d rekey: --batch must be 1..1000\n");
		return 2;
	}
	if (keys_load(err, sizeof(err)) != 0 || nmasters == 0)
	{
		fprintf(stderr, "ex7d rekey: %s", err[0] ? err : "EX7_MASTER_KEYS is not set\n");
		return 2;
	}
	if (url == NULL || *url == '\0')
		url = embedded = config_embedded_conninfo();
	{
		const char *keys[] = {"dbname", NULL};
		const char *vals[] = {url ? url : "", NULL};

		conn = PQconnectdbParams(keys, vals, 1);
	}
	free(embedded);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "ex7d rekey: cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		keys_free();
		return 1;
	}
	for (;;)
	{
		char		nb[16];
		const char *v[3] = {masters[0].kid, after[0] ? after : NULL, nb};
		PGresult   *res;
		json_object *rows;
		size_t		n;

		snprintf(nb, sizeof(nb), "%ld", batch);
		res = PQexecParams(conn, "SELECT ex7._exchange_keys_to_rekey($1, $2::uuid, $3::int)", 3, NULL, v,
						   NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		{
			fprintf(stderr, "ex7d rekey: %s", PQerrorMessage(conn));
			PQclear(res);
			status = 1;
			break;
		}
		rows = json_tokener_parse(PQgetvalue(res, 0, 0));
		PQclear(res);
		n = rows && json_object_is_type(rows, json_type_array) ? json_object_array_length(rows) : 0;
		for (size_t i = 0; i < n; i++)
		{
			json_object *row = json_object_array_get_idx(rows, i);
			json_object *f;
			int			rc = rekey_one(conn, row, &masters[0], &unknown);

			if (rc > 0)
				done++;
			else if (rc < 0)
				failed++;
			if (json_object_object_get_ex(row, "id", &f))
				snprintf(after, sizeof(after), "%s", json_object_get_string(f));
		}
		json_object_put(rows);
		if (n == 0)
			break;
	}
	same = unknown;
	printf("{\"current_kid\": \"%s\", \"rekeyed\": %ld, \"unknown_kid\": %ld, \"failed\": %ld}\n",
		   masters[0].kid, done, same, failed);
	PQfinish(conn);
	keys_free();
	return status != 0 || failed > 0 || unknown > 0 ? 1 : 0;
}
