// test/e2e/standins/llm.mjs: a local stand-in for an OpenAI-compatible Chat Completions endpoint (the
// part ex7d calls for Vix: POST {base}/chat/completions). It checks every request the way the API would
// refuse a bad one: Bearer key (401), JSON content type, a body with the expected model, a system and a
// user message, response_format json_object (400 otherwise); a shape error is recorded in `errors`, so
// a test asserts errors is empty. What it answers is the test's choice: `content` (a string the model
// "wrote", wrapped in a chat.completion), or the next entry of `queue`: {content}, {status, body} or
// {hang: true} (never answers: ex7d's timeout must end the wait).
import http from 'node:http';

export async function startLlm({ key = 'sk-e2e', model = 'e2e-model' } = {}) {
  const st = { requests: [], errors: [], queue: [], content: '{}', key, model, n: 0 };
  const hung = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const send = (status, obj) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
      };
      const bad = (status, message) => {
        st.errors.push(message);
        send(status, { error: { message, type: 'invalid_request_error', param: null, code: null } });
      };
      let body = null;
      try { body = JSON.parse(raw); } catch { /* checked below */ }
      st.requests.push({ method: req.method, path: req.url, headers: req.headers, body });
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return bad(404, `unknown endpoint ${req.method} ${req.url}`);
      if (req.headers.authorization !== `Bearer ${key}`) return bad(401, 'Incorrect API key provided');
      if (!/^application\/json\b/.test(req.headers['content-type'] || '')) return bad(400, 'expected a JSON body');
      if (!body || typeof body !== 'object') return bad(400, 'We could not parse the JSON body of your request.');
      if (body.model !== model) return bad(400, `The model \`${body.model}\` does not exist`);
      const m = body.messages;
      if (!Array.isArray(m) || m.length !== 2 || m[0].role !== 'system' || m[1].role !== 'user' ||
          typeof m[0].content !== 'string' || typeof m[1].content !== 'string') return bad(400, 'messages: a system and a user message expected');
      // OpenAI: json_object mode requires the word JSON in a message
      if (body.response_format?.type !== 'json_object') return bad(400, 'response_format json_object expected');
      if (!/JSON/.test(m[0].content)) return bad(400, "'messages' must contain the word 'json' in some form");
      const next = st.queue.length ? st.queue.shift() : { content: st.content };
      if (next.hang) { hung.add(res); return; }
      if (next.status) return send(next.status, next.body ?? { error: { message: 'The server had an error while processing your request.', type: 'server_error' } });
      send(200, {
        id: `chatcmpl-e2e-${++st.n}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: `${model}-2026-01-01`,
        choices: [{ index: 0, message: { role: 'assistant', content: next.content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 },
      });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  st.url = `http://127.0.0.1:${server.address().port}/v1`;
  st.close = () => { for (const r of hung) r.destroy(); server.closeAllConnections?.(); server.close(); };
  return st;
}
