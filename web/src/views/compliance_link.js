// compliance_link.js: the way out of a 412 compliance_required (docs/errors.md, docs/billing.md): the gated
// routes (runtime start, a signal's close, force-close-all, the stream, checkout, alert channels) refuse
// until the current compliance documents are accepted, which the Account page does. Every place that
// shows an API error adds this link after the message.
import { html } from '../html.js';
import { Link } from '../router.js';

export const needsCompliance = (e) => e?.status === 412 || e?.detail?.code === 'compliance_required';

export function ComplianceLink({ error }) {
  if (!needsCompliance(error)) return null;
  return html` <${Link} href="/account" class="compliance-link">Accept the compliance documents on the Account page</${Link}>`;
}
