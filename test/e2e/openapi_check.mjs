// test/e2e/openapi_check.mjs: checks an answer of ex7d against http/openapi.json (docs/http.md, "OpenAPI"):
// the status is one the operation lists, the JSON body matches the listed schema (ajv, JSON Schema 2020-12
// as OpenAPI 3.1 uses it, with ajv-formats for uuid, date-time, ...), and every header the response declares
// required is present. lib.mjs api() calls it on every answer, so a mismatch fails the test that made the
// request, naming the operation, the status and the schema path.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
const DOC_FILE = path.resolve(here, '../../http/openapi.json');
let state;

function load() {
  const doc = JSON.parse(readFileSync(DOC_FILE, 'utf8'));
  // strict off: the document holds OpenAPI keywords (description, examples) beside JSON Schema's
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');
  const ops = [];
  for (const [p, methods] of Object.entries(doc.paths)) {
    const names = [];
    const re = new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, n) => { names.push(n); return '([^/]+)'; })}$`);
    for (const [m, op] of Object.entries(methods)) ops.push({ path: p, method: m.toUpperCase(), re, literal: names.length === 0, op, params: names.length });
  }
  // literal paths before templated ones (OpenAPI 3.1, section 4.8.8), fewer templates first
  ops.sort((a, b) => a.params - b.params);
  state = { doc, ajv, ops, validators: new Map() };
  return state;
}

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const deref = (doc, o) => (o && o.$ref ? o.$ref.slice(2).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((x, k) => x[k], doc) : o);

// operationFor: the documented operation of a method and path (query string dropped), or undefined
export function operationFor(method, url) {
  const s = state ?? load();
  const p = url.split('?')[0];
  const m = method === 'HEAD' ? 'GET' : method;
  return s.ops.find((o) => o.method === m && o.re.test(p));
}

// checkResponse: returns a list of problems (empty when the answer matches the document). A path the
// document does not have (an unknown path, a method it does not list) is not checked: the router's 404 and
// 405 are not operations.
export function checkResponse(method, url, status, headers, text) {
  const s = state ?? load();
  const found = operationFor(method, url);
  if (!found) return [];
  const where = `${found.method} ${found.path} (${found.op.operationId}) -> ${status}`;
  const respRaw = found.op.responses[String(status)];
  if (!respRaw) return [`${where}: status ${status} is not listed (listed: ${Object.keys(found.op.responses).join(', ')})`];
  const resp = deref(s.doc, respRaw);
  const problems = [];
  for (const [name, hRaw] of Object.entries(resp.headers ?? {})) {
    const h = deref(s.doc, hRaw);
    if (h.required && headers.get(name) === null) problems.push(`${where}: header ${name} is declared required but absent`);
  }
  const ctype = (headers.get('content-type') || '').split(';')[0].trim();
  if (method === 'HEAD' || status === 204 || status === 304) return problems;
  if (!resp.content) {
    if (text) problems.push(`${where}: a body was sent but the response declares none`);
    return problems;
  }
  const media = Object.keys(resp.content).find((k) => k.split(';')[0].trim() === ctype);
  if (!media) {
    problems.push(`${where}: content-type ${ctype || '(none)'} is not one of ${Object.keys(resp.content).join(', ')}`);
    return problems;
  }
  if (ctype !== 'application/json') return problems;
  let body;
  try { body = JSON.parse(text); } catch { problems.push(`${where}: the body is not JSON`); return problems; }
  const refPath = `#/paths/${esc(found.path)}/${found.method.toLowerCase()}/responses/${status}/content/${esc(media)}/schema`;
  // a response given by $ref is checked through its component
  const schemaRef = respRaw.$ref ? `${respRaw.$ref}/content/${esc(media)}/schema` : refPath;
  let v = s.validators.get(schemaRef);
  if (!v) { v = s.ajv.getSchema(`openapi.json${schemaRef}`); s.validators.set(schemaRef, v); }
  if (!v(body)) {
    for (const e of v.errors.slice(0, 5)) {
      problems.push(`${where}: body${e.instancePath || ''} ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''}` +
                    ` [schema ${schemaRef}${e.schemaPath.slice(1)}]`);
    }
  }
  return problems;
}
