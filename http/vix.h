/*
 * vix.h
 *	  Vix's optional language model (docs/account.md, "Vix with a language model"): POST
 *	  /api/vix/generate-strategy asks an OpenAI-compatible Chat Completions endpoint first when
 *	  EX7_VIX_LLM_BASE is set, and the extension judges the answer.
 */
#ifndef EX7D_VIX_H
#define EX7D_VIX_H

#include "ex7d.h"

/*
 * vix_generate_handler: the route's handler (http/routes_account.h). Without EX7_VIX_LLM_BASE, exactly
 * the route's own call (ex7.vix_generate, Retry-After on its 429); with it, ex7.vix_llm_request, the
 * call to the endpoint, then ex7.vix_llm_result with whatever came back.
 */
extern void vix_generate_handler(Req *r, char **values);

#endif
