/*
 * import_bars.c
 *	  `ex7d import-bars FILE [--batch N] [--no-dispatch] [--quiet]`: load closed bars from a CSV
 *	  file (RFC 4180; header instrument,timeframe,ts,open,high,low,close,volume in any order) into
 *	  ex7.
 *
 *	  Rows go in batches through ex7.ingest_bars, the function behind POST /api/market/bars, so a
 *	  CSV row passes exactly the rules a REST or SQL bar does (docs/market.md). Each batch is one
 *	  transaction, all or nothing. The import stops at the first batch that fails: the batches
 *	  before it are stored, nothing from it on is, and the error names the CSV line of the first
 *	  bad row (the locator ["body","bars",i,field] of the error maps back to the row's line).
 *	  Re-running the same file after fixing that line is safe: the stored bars come back as
 *	  duplicates, which are no-ops.
 *
 *	  On a terminal, stderr shows a progress bar (bytes read of the file's size, rows, rows/s);
 *	  stdout gets a one-line summary at the end in every case.
 */
#include "import_bars.h"
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <json.h>
#include <libpq-fe.h>

#define DEFAULT_BATCH	1000
#define MAX_BATCH		10000	/* ex7.ingest_bars refuses more in one call */
#define MAX_RECORD		(64 * 1024)	/* a bar is under 200 bytes; anything this long is not a bar */
#define NCOLS			8
#define PROGRESS_EVERY_US 100000	/* redraw at most ten times a second */

static const char *const columns[NCOLS] = {
	"instrument", "timeframe", "ts", "open", "high", "low", "close", "volume"
};

static const char usage[] =
	"usage: ex7d import-bars FILE [--batch N] [--no-dispatch] [--quiet]\n"
	"  FILE           CSV with the header instrument,timeframe,ts,open,high,low,close,volume\n"
	"                 (any column order; ts ISO-8601 with offset, e.g. 2026-04-20T13:35:00Z);\n"
	"                 - reads stdin\n"
	"  --batch N      rows per transaction (default 1000, 1..10000)\n"
	"  --no-dispatch  store without handing the bars to the runtimes (history backfills)\n"
	"  --quiet        no progress bar\n"
	"Connects to DATABASE_URL (default: the `make run` cluster, else libpq's PG* variables).\n"
	"Stops at the first batch with a bad row: earlier batches stay stored, that batch and\n"
	"the rest are not; the error names the CSV line.\n"
	"Exit status: 0 all stored, 1 a row rejected or a database error, 2 usage.\n";

typedef struct Import
{
	const char *path;
	FILE	   *in;
	long long	size;			/* bytes, or -1 when unknown (a pipe) */
	long long	read;			/* bytes consumed */
	int			line;			/* lines consumed */
	int			col[NCOLS];		/* CSV column of each bar field */
	int			ncols;			/* columns of the header */
	/* the batch being built */
	json_object *bars;
	int		   *lines;			/* CSV line of each row of the batch */
	int			nbatch;
	int			batch;
	bool		dispatch;
	bool		progress;
	/* totals */
	long long	rows;
	long long	received,
				stored,
				late,
				duplicates,
				dispatched;
	int			batches;
	struct timeval start;
	struct timeval last_draw;
	PGconn	   *conn;
} Import;

/* elapsed_us: returns the microseconds from a to b. */
static long long
elapsed_us(const struct timeval *a, const struct timeval *b)
{
	return (long long) (b->tv_sec - a->tv_sec) * 1000000 + (b->tv_usec - a->tv_usec);
}

/* draw_progress: returns nothing; redraws the progress line on stderr (every 100 ms at most, unless
 * force). */
static void
draw_progress(Import *im, bool force)
{
	struct timeval now;
	double		secs;
	double		rate;

	if (!im->progress)
		return;
	gettimeofday(&now, NULL);
	if (!force && elapsed_us(&im->last_draw, &now) < PROGRESS_EVERY_US)
		return;
	im->last_draw = now;
	secs = elapsed_us(&im->start, &now) / 1e6;
	rate = secs > 0 ? (double) im->rows / secs : 0;
	if (im->size > 0)
	{
		int			width = 30;
		double		frac = (double) im->read / (double) im->size;
		int			fill;
		char		bar[31];

		if (frac > 1)
			frac = 1;
		fill = (int) (frac * width);
		memset(bar, '#', (size_t) fill);
		memset(bar + fill, '.', (size_t) (width - fill));
		bar[width] = '\0';
		fprintf(stderr, "\r[%s] %3d%%  %.1f/%.1f MB  %lld rows  %.0f rows/s\033[K", bar,
				(int) (frac * 100), im->read / 1e6, im->size / 1e6, im->rows, rate);
	}
	else
		fprintf(stderr, "\r%.1f MB  %lld rows  %.0f rows/s\033[K", im->read / 1e6, im->rows, rate);
	fflush(stderr);
}

/* clear_progress: returns nothing; erases the progress line, so the summary starts clean. */
static void
clear_progress(Import *im)
{
	if (im->progress)
	{
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}

/*
 * read_record: returns the number of fields of the next non-blank CSV record (RFC 4180: fields
 * may be quoted, "" is a quote inside quotes, a quoted field may span lines), 0 at the end of the
 * file, or -1 after writing a message to err. fields[] point into *buf (reused across calls);
 * *first_line is the line the record starts on.
 */
static int
read_record(Import *im, char **buf, size_t *cap, char **fields, int maxfields, int *first_line,
			char *err, size_t errlen)
{
	char	   *line = NULL;
	size_t		linecap = 0;
	ssize_t		n;
	size_t		len = 0;
	int			nf;

	for (;;)
	{
		bool		in_quotes = false;
		char	   *w;
		char	   *r;

		len = 0;
		*first_line = im->line + 1;
		/* gather physical lines until the quotes balance */
		for (;;)
		{
			n = getline(&line, &linecap, im->in);
			if (n < 0)
			{
				if (len == 0)
				{
					free(line);
					return 0;
				}
				if (in_quotes)
				{
					snprintf(err, errlen, "%s:%d: unterminated quoted field", im->path,
							 *first_line);
					free(line);
					return -1;
				}
				break;
			}
			im->line++;
			im->read += n;
			if ((size_t) n != strlen(line))
			{
				snprintf(err, errlen, "%s:%d: NUL byte in the file", im->path, im->line);
				free(line);
				return -1;
			}
			if (len + (size_t) n + 1 > MAX_RECORD)
			{
				snprintf(err, errlen, "%s:%d: record longer than %d bytes", im->path, *first_line,
						 MAX_RECORD);
				free(line);
				return -1;
			}
			if (len + (size_t) n + 1 > *cap)
			{
				size_t		want = len + (size_t) n + 1 > 2 * *cap ? len + (size_t) n + 1 : 2 * *cap;
				char	   *grown = realloc(*buf, want);

				if (grown == NULL)
				{
					snprintf(err, errlen, "%s:%d: out of memory", im->path, *first_line);
					free(line);
					return -1;
				}
				*buf = grown;
				*cap = want;
			}
			memcpy(*buf + len, line, (size_t) n + 1);
			for (ssize_t i = 0; i < n; i++)
				if (line[i] == '"')
					in_quotes = !in_quotes;
			len += (size_t) n;
			if (!in_quotes)
				break;
		}
		/* the record's line ending: \n or \r\n */
		if (len > 0 && (*buf)[len - 1] == '\n')
			(*buf)[--len] = '\0';
		if (len > 0 && (*buf)[len - 1] == '\r')
			(*buf)[--len] = '\0';
		/* a UTF-8 byte order mark before the header */
		if (*first_line == 1 && len >= 3 && memcmp(*buf, "\xEF\xBB\xBF", 3) == 0)
		{
			memmove(*buf, *buf + 3, len - 2);
			len -= 3;
		}
		if (strspn(*buf, " \t") == len)
			continue;			/* a blank line */

		/* split in place: unquote, undouble "" */
		nf = 0;
		r = w = *buf;
		for (;;)
		{
			if (nf == maxfields)
			{
				snprintf(err, errlen, "%s:%d: more than %d fields", im->path, *first_line,
						 maxfields);
				free(line);
				return -1;
			}
			fields[nf++] = w;
			while (*r == ' ' || *r == '\t')
				r++;
			if (*r == '"')
			{
				r++;
				for (;;)
				{
					if (*r == '\0')
						break;
					if (*r == '"' && r[1] == '"')
					{
						*w++ = '"';
						r += 2;
					}
					else if (*r == '"')
					{
						r++;
						break;
					}
					else
						*w++ = *r++;
				}
				while (*r == ' ' || *r == '\t')
					r++;
				if (*r != ',' && *r != '\0')
				{
					snprintf(err, errlen, "%s:%d: text after a closing quote in field %d", im->path,
							 *first_line, nf);
					free(line);
					return -1;
				}
			}
			else
			{
				char	   *start = w;

				while (*r != ',' && *r != '\0')
					*w++ = *r++;
				while (w > start && (w[-1] == ' ' || w[-1] == '\t'))
					w--;
			}
			if (*r == '\0')
			{
				*w = '\0';
				break;
			}
			*w++ = '\0';
			r++;				/* the comma */
		}
		free(line);
		return nf;
	}
}

/* read_header: returns 0 with im->col filled from the header record, or -1 after writing err. */
static int
read_header(Import *im, char **buf, size_t *cap, char *err, size_t errlen)
{
	char	   *fields[64];
	int			first;
	int			nf = read_record(im, buf, cap, fields, 64, &first, err, errlen);

	if (nf == 0)
	{
		snprintf(err, errlen, "%s: the file is empty: expected the header %s,%s,%s,%s,%s,%s,%s,%s",
				 im->path, columns[0], columns[1], columns[2], columns[3], columns[4], columns[5],
				 columns[6], columns[7]);
		return -1;
	}
	if (nf < 0)
		return -1;
	for (int c = 0; c < NCOLS; c++)
		im->col[c] = -1;
	for (int i = 0; i < nf; i++)
	{
		int			c;

		for (c = 0; c < NCOLS; c++)
			if (strcasecmp(fields[i], columns[c]) == 0)
				break;
		if (c == NCOLS)
		{
			snprintf(err, errlen,
					 "%s:%d: unknown column \"%.64s\" (the columns are %s,%s,%s,%s,%s,%s,%s,%s)",
					 im->path, first, fields[i], columns[0], columns[1], columns[2], columns[3],
					 columns[4], columns[5], columns[6], columns[7]);
			return -1;
		}
		if (im->col[c] >= 0)
		{
			snprintf(err, errlen, "%s:%d: column %s appears twice", im->path, first, columns[c]);
			return -1;
		}
		im->col[c] = i;
	}
	for (int c = 0; c < NCOLS; c++)
		if (im->col[c] < 0)
		{
			snprintf(err, errlen, "%s:%d: the header has no column %s", im->path, first,
					 columns[c]);
			return -1;
		}
	im->ncols = nf;
	return 0;
}

/* add_totals: returns nothing; adds the counts of one ex7.ingest_bars result to the totals. */
static void
add_totals(Import *im, const char *json)
{
	json_object *o = json_tokener_parse(json);
	json_object *v;

#define ADD(field, key) \
	if (o && json_object_object_get_ex(o, key, &v)) \
		im->field += json_object_get_int64(v)
	ADD(received, "received");
	ADD(stored, "stored");
	ADD(late, "late");
	ADD(duplicates, "duplicates");
	ADD(dispatched, "dispatched");
#undef ADD
	json_object_put(o);
}

/*
 * explain_error: returns nothing; writes into msg the error of a failed batch: for a bar the
 * function pointed at (the locator ["body","bars",i,field] of a 422, or the "loc" of a 409), the
 * CSV line of that row, the field and the message.
 */
static void
explain_error(Import *im, const PGresult *res, char *msg, size_t len)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	json_object *d = detail ? json_tokener_parse(detail) : NULL;
	json_object *loc = NULL;
	int			row = -1;
	const char *field = NULL;

	if (d && json_object_is_type(d, json_type_array) && json_object_array_length(d) > 0)
	{
		json_object *first = json_object_array_get_idx(d, 0);
		json_object *m;

		json_object_object_get_ex(first, "loc", &loc);
		if (json_object_object_get_ex(first, "msg", &m) && json_object_is_type(m, json_type_string))
			text = json_object_get_string(m);
	}
	else if (d && json_object_is_type(d, json_type_object))
		json_object_object_get_ex(d, "loc", &loc);
	if (loc && json_object_is_type(loc, json_type_array))
	{
		/* ["body","bars",i] or ["body","bars",i,field] */
		size_t		n = json_object_array_length(loc);

		if (n >= 3 && json_object_is_type(json_object_array_get_idx(loc, 2), json_type_int))
			row = json_object_get_int(json_object_array_get_idx(loc, 2));
		if (n >= 4 && json_object_is_type(json_object_array_get_idx(loc, 3), json_type_string))
			field = json_object_get_string(json_object_array_get_idx(loc, 3));
	}
	if (row >= 0 && row < im->nbatch)
		snprintf(msg, len, "%s:%d: %s%s%s [%s]", im->path, im->lines[row], field ? field : "",
				 field ? ": " : "", text ? text : "error", state ? state : "?");
	else
		snprintf(msg, len, "%s: the batch of lines %d-%d: %s [%s]", im->path,
				 im->nbatch ? im->lines[0] : 0, im->nbatch ? im->lines[im->nbatch - 1] : 0,
				 text ? text : PQerrorMessage(im->conn), state ? state : "?");
	json_object_put(d);
}

/* send_batch: returns 0 after storing the batch, or -1 with the reason in msg. */
static int
send_batch(Import *im, char *msg, size_t len)
{
	static const char sql[] = "SELECT ex7.ingest_bars($1::jsonb, $2::boolean)";
	json_object *body;
	const char *values[2];
	PGresult   *res;
	int			rc = 0;

	if (im->nbatch == 0)
		return 0;
	body = json_object_new_object();
	json_object_object_add(body, "bars", json_object_get(im->bars));
	values[0] = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	values[1] = im->dispatch ? "true" : "false";
	res = PQexecParams(im->conn, sql, 2, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		add_totals(im, PQgetvalue(res, 0, 0));
		im->batches++;
	}
	else
	{
		if (PQresultStatus(res) == PGRES_FATAL_ERROR && PQresultErrorField(res, PG_DIAG_SQLSTATE))
			explain_error(im, res, msg, len);
		else
			snprintf(msg, len, "%s: the batch of lines %d-%d: %s", im->path, im->lines[0],
					 im->lines[im->nbatch - 1], PQerrorMessage(im->conn));
		rc = -1;
	}
	PQclear(res);
	json_object_put(body);
	return rc;
}

/* reset_batch: returns nothing; starts an empty batch. */
static void
reset_batch(Import *im)
{
	json_object_put(im->bars);
	im->bars = json_object_new_array();
	im->nbatch = 0;
}

/* connect_db: returns a connection, or NULL after printing why. */
static PGconn *
connect_db(void)
{
	const char *url = getenv("DATABASE_URL");
	char	   *embedded = NULL;
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *vals[] = {NULL, "ex7d import-bars", NULL};
	PGconn	   *conn;

	if (url == NULL || *url == '\0')
		url = embedded = config_embedded_conninfo();
	vals[0] = url ? url : "";
	conn = PQconnectdbParams(keys, vals, 1);
	free(embedded);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "ex7d import-bars: cannot connect to the database: %s",
				conn ? PQerrorMessage(conn) : "out of memory\n");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

int
import_bars_main(int argc, char **argv)
{
	Import		im = {0};
	char	   *buf = NULL;
	size_t		cap = 0;
	char		err[1024] = "";
	int			rc = 0;
	bool		quiet = false;
	struct timeval end;
	double		secs;
	struct stat st;

	im.batch = DEFAULT_BATCH;
	im.dispatch = true;
	for (int i = 2; i < argc; i++)
	{
		if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
		{
			char	   *e;
			long		n;

			errno = 0;
			n = strtol(argv[++i], &e, 10);
			if (errno != 0 || *e != '\0' || n < 1 || n > MAX_BATCH)
			{
				fprintf(stderr, "ex7d import-bars: --batch must be an integer between 1 and %d\n",
						MAX_BATCH);
				return 2;
			}
			im.batch = (int) n;
		}
		else if (strcmp(argv[i], "--no-dispatch") == 0)
			im.dispatch = false;
		else if (strcmp(argv[i], "--quiet") == 0)
			quiet = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			printf("%s", usage);
			return 0;
		}
		else if (im.path == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
			im.path = argv[i];
		else
		{
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (im.path == NULL)
	{
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (strcmp(im.path, "-") == 0)
	{
		im.in = stdin;
		im.path = "stdin";
	}
	else if ((im.in = fopen(im.path, "r")) == NULL)
	{
		fprintf(stderr, "ex7d import-bars: cannot open %s: %s\n", im.path, strerror(errno));
		return 2;
	}
	im.size = (fstat(fileno(im.in), &st) == 0 && S_ISREG(st.st_mode)) ? (long long) st.st_size : -1;
	im.progress = !quiet && isatty(STDERR_FILENO);
	im.lines = malloc(sizeof(int) * (size_t) im.batch);
	im.bars = json_object_new_array();
	gettimeofday(&im.start, NULL);

	if (read_header(&im, &buf, &cap, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "ex7d import-bars: %s\n", err);
		rc = 2;
		goto done;
	}
	if ((im.conn = connect_db()) == NULL)
	{
		rc = 1;
		goto done;
	}
	for (;;)
	{
		char	   *fields[64];
		int			first;
		int			nf = read_record(&im, &buf, &cap, fields, 64, &first, err, sizeof(err));

		if (nf < 0)
		{
			/* a broken row: nothing of this batch is sent, like a row the database refuses */
			rc = 1;
			break;
		}
		if (nf > 0 && nf != im.ncols)
		{
			snprintf(err, sizeof(err), "%s:%d: expected %d fields like the header, found %d",
					 im.path, first, im.ncols, nf);
			rc = 1;
			break;
		}
		if (nf > 0)
		{
			json_object *o = json_object_new_object();

			for (int c = 0; c < NCOLS; c++)
			{
				const char *v = fields[im.col[c]];

				/* an empty field is a missing one: the function answers "field required" */
				if (*v)
					json_object_object_add(o, columns[c], json_object_new_string(v));
			}
			json_object_array_add(im.bars, o);
			im.lines[im.nbatch++] = first;
			im.rows++;
		}
		if (im.nbatch == im.batch || (nf == 0 && im.nbatch > 0))
		{
			if (send_batch(&im, err, sizeof(err)) != 0)
			{
				rc = 1;
				break;
			}
			reset_batch(&im);
		}
		draw_progress(&im, nf == 0);
		if (nf == 0)
			break;
	}
	clear_progress(&im);
	gettimeofday(&end, NULL);
	secs = elapsed_us(&im.start, &end) / 1e6;
	printf("import-bars: %s: %lld rows in %d batch%s, %.2f s (%.0f rows/s): "
		   "%lld stored (%lld late), %lld duplicates, %lld dispatched\n",
		   im.path, im.received, im.batches, im.batches == 1 ? "" : "es", secs,
		   secs > 0 ? (double) im.received / secs : 0.0, im.stored, im.late, im.duplicates,
		   im.dispatched);
	if (rc != 0)
	{
		printf("import-bars: rejected: %s\n", err);
		if (im.nbatch > 0)
			printf("import-bars: not stored: the batch of lines %d-%d (%d row%s) and everything "
				   "after it\n",
				   im.lines[0], im.lines[im.nbatch - 1], im.nbatch, im.nbatch == 1 ? "" : "s");
		else
			printf("import-bars: not stored: everything from line %d on\n", im.line);
		fprintf(stderr, "ex7d import-bars: rejected: %s\n", err);
	}
	fflush(stdout);

done:
	PQfinish(im.conn);
	json_object_put(im.bars);
	free(im.lines);
	free(buf);
	if (im.in && im.in != stdin)
		fclose(im.in);
	return rc;
}
