/*-------------------------------------------------------------------------
 *
 * base64url.h
 *	  Base64url without padding (RFC 4648 section 5; RFC 7515 section 2, "Base64url Encoding"): the one
 *	  implementation of both builds. ex7d decodes JWT parts and JWKS members with it (http/jwt.c), the
 *	  extension spells cursors (ext/cursor.c) and unsubscribe tokens (ext/alerts.c) with it.
 *
 * Header-only, with static functions that work on caller-sized buffers: PGXS builds the extension from
 * the C files of ext/ and the Makefile builds ex7d from those of http/, so a header both include needs
 * no third kind of source in either build; with no allocation it serves malloc (ex7d) and palloc (the
 * backend) alike. Pure C: no PostgreSQL, libevent or OpenSSL, so a fuzzer can call it on any bytes.
 *
 * Decoding is strict, so that every value has exactly one spelling (a cursor or a token edited into
 * another spelling of the same bytes is refused, and a signature cannot be re-spelled): only the 64
 * characters of the URL-safe alphabet ('-' and '_', never '+' or '/'), no '=' padding, no whitespace, no
 * NUL, a length that is not 1 modulo 4 (RFC 4648 section 5 leaves no such length), and the unused low
 * bits of the last character zero (RFC 4648 section 3.5 allows a decoder to require that).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_BASE64URL_H
#define EX7_BASE64URL_H

#include <stdbool.h>
#include <stddef.h>

/* b64url_encoded_len: returns the length of the unpadded base64url text of len bytes (no NUL). */
static inline size_t
b64url_encoded_len(size_t len)
{
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

/*
 * b64url_decoded_len: returns the number of bytes that base64url text of len characters decodes to,
 * or (size_t) -1 when no unpadded base64url text has that length (len % 4 == 1).
 */
static inline size_t
b64url_decoded_len(size_t len)
{
	if (len % 4 == 1)
		return (size_t) -1;
	return len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
}

/* b64url_value: returns the 6-bit value of character c, or -1 when c is not in the alphabet. */
static inline int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * b64url_encode: returns the number of characters written to dst: the unpadded base64url text of the
 * len bytes of src, followed by a NUL. dst holds at least b64url_encoded_len(len) + 1 characters.
 */
static inline size_t
b64url_encode(const unsigned char *src, size_t len, char *dst)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		o = 0;
	size_t		i;

	for (i = 0; i + 2 < len; i += 3)
	{
		unsigned long v = ((unsigned long) src[i] << 16) | ((unsigned long) src[i + 1] << 8) | src[i + 2];

		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = alphabet[v & 63];
	}
	if (len - i == 1)
	{
		unsigned long v = (unsigned long) src[i] << 16;

		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		unsigned long v = ((unsigned long) src[i] << 16) | ((unsigned long) src[i + 1] << 8);

		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
	}
	dst[o] = '\0';
	return o;
}

/*
 * b64url_decode: returns true and sets *dstlen (= b64url_decoded_len(len)) after writing the bytes of
 * the len characters of src to dst, which holds at least b64url_decoded_len(len) bytes; false when src
 * is not strict unpadded base64url (see the file comment). dst may have been written to either way.
 */
static inline bool
b64url_decode(const char *src, size_t len, unsigned char *dst, size_t *dstlen)
{
	unsigned long acc = 0;
	int			bits = 0;
	size_t		n = 0;

	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		int			v = b64url_value((unsigned char) src[i]);

		if (v < 0)
			return false;
		acc = ((acc << 6) | (unsigned long) v) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			dst[n++] = (unsigned char) (acc >> bits);
		}
	}
	/* the unused low bits of the last character must be zero: one spelling per value */
	if (bits > 0 && (acc & ((1ul << bits) - 1)) != 0)
		return false;
	*dstlen = n;
	return true;
}

#endif							/* EX7_BASE64URL_H */
