/*
 * billing.h
 *	  Billing routes that talk to Stripe (docs/billing.md): the Checkout, billing-portal, cancel and
 *	  resume calls (the extension decides, ex7d calls Stripe through outcall.c, the extension records the
 *	  result) and the webhook, whose Stripe-Signature is verified here over the raw body before anything
 *	  is parsed.
 */
#ifndef EX7D_BILLING_H
#define EX7D_BILLING_H

#include "ex7d.h"

/* billing_init: returns nothing; reads the STRIPE_* settings from the environment (at start-up). */
extern void billing_init(void);

/* billing_free: returns nothing; frees the settings (exit). */
extern void billing_free(void);

/*
 * billing_stripe_call: returns nothing; the route handler of checkout, portal, cancel and resume: runs
 * the route's preparing function, calls Stripe with what it returned, records the answer, replies.
 */
extern void billing_stripe_call(Req *r, char **values);

/*
 * billing_webhook: returns nothing; the route handler of POST /api/billing/webhook: 400 unless
 * Stripe-Signature verifies over the raw body with a configured secret, then ex7.stripe_apply_event.
 */
extern void billing_webhook(Req *r, char **values);

#endif
