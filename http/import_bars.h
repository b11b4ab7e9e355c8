/*
 * import_bars.h
 *	  `ex7d import-bars`: load closed bars from a CSV file into ex7 (http/import_bars.c).
 */
#ifndef EX7D_IMPORT_BARS_H
#define EX7D_IMPORT_BARS_H

/*
 * import_bars_main: `ex7d import-bars FILE [--batch N] [--no-dispatch] [--quiet]` (argv[1] is
 * "import-bars"). Returns the exit status: 0 when every row was stored or was a duplicate, 1 when a
 * row was rejected or the database failed, 2 for a usage error, an unreadable file or a bad header.
 */
extern int	import_bars_main(int argc, char **argv);

#endif
