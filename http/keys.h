/*
 * keys.h
 *	  Exchange keys (docs/account.md): AES-256-GCM under master keys from EX7_MASTER_KEYS, the create
 *	  handler of POST /api/exchange-keys and the `ex7d rekey` command.
 */
#ifndef EX7D_KEYS_H
#define EX7D_KEYS_H

#include <stddef.h>

struct Req;

/* keys_load: returns 0 after reading EX7_MASTER_KEYS ("kid:base64(32 bytes),..."; the first is
 * current; unset means exchange keys are off), or -1 with a line appended to err. */
extern int	keys_load(char *err, size_t errlen);
extern void keys_free(void);

/* keys_create_handler: POST /api/exchange-keys: checks the body, encrypts, stores through SQL. */
extern void keys_create_handler(struct Req *r, char **values);

/* keys_rekey_main: `ex7d rekey [--batch N]`; returns the exit status. */
extern int	keys_rekey_main(int argc, char **argv);

#endif
