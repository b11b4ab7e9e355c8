/*-------------------------------------------------------------------------
 *
 * ex7.h
 *	  Shared declarations of the ex7 extension: the SQLSTATE class that maps to HTTP statuses and the
 *	  helpers that raise user-facing errors with it.
 *
 * Every user-facing error carries a SQLSTATE of class X7 whose last three characters are the HTTP
 * status the contract names (ex7-api-introduction.txt, "Error codes"): X7404 is a 404 and so on. The
 * HTTP front derives the status from the code alone; docs/errors.md has the table. When an error
 * carries data (the allowed transitions on a 409, the current row on a 409 close, the locator list of a
 * 422), the DETAIL field holds it as JSON and becomes the "detail" of the HTTP body.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_H
#define EX7_H

#include "postgres.h"

#define ERRCODE_EX7_BAD_REQUEST			MAKE_SQLSTATE('X', '7', '4', '0', '0')
#define ERRCODE_EX7_UNAUTHORIZED		MAKE_SQLSTATE('X', '7', '4', '0', '1')
#define ERRCODE_EX7_FORBIDDEN			MAKE_SQLSTATE('X', '7', '4', '0', '3')
#define ERRCODE_EX7_NOT_FOUND			MAKE_SQLSTATE('X', '7', '4', '0', '4')
#define ERRCODE_EX7_CONFLICT			MAKE_SQLSTATE('X', '7', '4', '0', '9')
#define ERRCODE_EX7_PRECONDITION		MAKE_SQLSTATE('X', '7', '4', '1', '2')
#define ERRCODE_EX7_INVALID				MAKE_SQLSTATE('X', '7', '4', '2', '2')
#define ERRCODE_EX7_TOO_MANY			MAKE_SQLSTATE('X', '7', '4', '2', '9')
#define ERRCODE_EX7_UNAVAILABLE			MAKE_SQLSTATE('X', '7', '5', '0', '3')

/*
 * ex7_json_quote: returns a palloc'd JSON string literal (with quotes) for s.
 */
extern char *ex7_json_quote(const char *s);

/*
 * ex7_invalid: raises a 422 (X7422) whose DETAIL is the FastAPI-shaped locator list
 * [{"loc": <loc_json>, "msg": msg, "type": type}]. loc_json is a JSON array literal such as
 * '["query","cursor"]'. Does not return.
 */
/* secrets.c: a key of ex7.secrets, read once per backend by its caller */
extern uint8 *ex7_secret(const char *name, size_t *len);

extern void ex7_invalid(const char *loc_json, const char *msg, const char *type) pg_attribute_noreturn();

/* risk.c: money as the API shows it, at least two decimals, none rounded away ("-500.00") */
struct NumericData;
extern char *ex7_money_text(struct NumericData *n);

#endif							/* EX7_H */
