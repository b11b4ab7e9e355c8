/*-------------------------------------------------------------------------
 *
 * svg.h
 *	  The drawing helpers the SVG pictures share, so every picture looks the same (the equity curve of
 *	  ext/metrics.c; the Monte Carlo fan, the parameter heatmap and the walk-forward curve of
 *	  ext/research.c): XML escaping, round axis steps, UTC date labels and the statement's wrapping.
 *	  Defined in ext/metrics.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_SVG_H
#define EX7_SVG_H

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"

/* appends s with the five XML special characters escaped and characters XML 1.0 forbids dropped */
extern void ex7_svg_text(StringInfo b, const char *s);

/* the "nice" step (1, 2 or 5 times a power of ten) that cuts range into about n intervals */
extern double ex7_svg_nice_step(double range, int n);

/* decimals needed to print multiples of step exactly (0 for steps >= 1, at most 6) */
extern int	ex7_svg_step_decimals(double step);

/* appends ts's UTC date "YYYY-MM-DD", and " HH:MM" when with_time */
extern void ex7_svg_date_label(StringInfo b, TimestampTz ts, bool with_time);

/* s wrapped at word boundaries into lines of at most 100 characters (the statement under a chart) */
extern List *ex7_svg_wrap(const char *s);

#endif							/* EX7_SVG_H */
