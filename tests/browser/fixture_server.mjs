// A stand-in for the daemon's /board/ routes, for page tests without the daemon
// (and for working on the pages: `node tests/browser/fixture_server.mjs --port 8088`).
// No dependencies beyond Node.
//
// It serves src/board/assets/ the way the daemon does:
//   GET /board/, /board/teams/{team}, /board/tv   board.html with {{lang}},
//       {{view}}, {{team}}, {{title}} filled in (HTML-escaped); the language from
//       ?lang=zh|en, else Accept-Language, else the default (zh); sets the viewer
//       cookie (left out with ?fixture_token=none, to see the 401 path)
//   GET /board/assets/{file}                      the asset files
//   GET /board/api/v1/snapshot                    the current snapshot (401 without the cookie)
//   GET /board/api/v1/events                      Server-Sent Events: the snapshot at once and
//                                                 on every change, `: keepalive` every 15 s
// with the daemon's Content-Security-Policy on every answer.
//
// Test controls (POST, JSON bodies):
//   /fixture/next      {team, hour, actual}: set one hour's actual quantity and recompute
//                      the cumulative values, the team totals and the status; without a
//                      body, every team's current hour gains 5. A new sequence; pushed.
//   /fixture/patch     merge the body's top-level fields into the snapshot; pushed
//   /fixture/snapshot  replace the snapshot by the body; pushed
//   /fixture/reset     back to the fixture file; pushed
//   /fixture/events/down   drop every event stream and refuse new ones (a network error)
//   /fixture/events/up     accept event streams again
// GET /fixture/state -> {sequence, streams, events_down}.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const ASSETS_DIR = path.join(REPO, 'src/board/assets');
export const FIXTURE_FILE = path.join(HERE, 'fixtures/snapshot.json');

// The header the daemon sends with every /board/ answer (issue 17).
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const VIEWER_COOKIE = 'board_viewer';
const VIEWER_TOKEN = 'fixture-viewer-token';

const CONTENT_TYPES = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function fillShell(template, values) {
  return template.replace(/\{\{(lang|view|team|title)\}\}/g, (_, name) => escapeHtml(values[name] ?? ''));
}

function pickLang(url, headers, defaultLang) {
  const q = url.searchParams.get('lang');
  if (q === 'zh' || q === 'en') return q;
  for (const part of String(headers['accept-language'] || '').split(',')) {
    const tag = part.trim().split(';')[0].toLowerCase();
    if (tag.startsWith('zh')) return 'zh';
    if (tag.startsWith('en')) return 'en';
  }
  return defaultLang;
}

function hasViewerToken(headers) {
  return String(headers.cookie || '')
    .split(';')
    .some((c) => c.trim() === `${VIEWER_COOKIE}=${VIEWER_TOKEN}`);
}

function round1(v) {
  return Math.round(v * 10) / 10;
}

// Recompute what the daemon derives from the hourly actual quantities.
export function recompute(snapshot) {
  const behind = snapshot.thresholds?.behind ?? 95;
  const far = snapshot.thresholds?.far_behind ?? 85;
  for (const team of snapshot.teams || []) {
    let cumActual = 0;
    let total = 0;
    for (const h of team.hours || []) {
      if (h.actual === null || h.actual === undefined) continue;
      cumActual += h.actual;
      total += h.actual;
      h.cum_actual = cumActual;
      h.variance = h.cum_plan === null || h.cum_plan === undefined ? null : cumActual - h.cum_plan;
    }
    team.actual = total;
    if (team.plan_to_now > 0) {
      team.percent = round1((total / team.plan_to_now) * 100);
      team.status = team.percent < far ? 'far_behind' : team.percent < behind ? 'behind' : 'on_plan';
    } else {
      team.percent = null;
      team.status = 'no_plan';
    }
  }
  return snapshot;
}

export async function startFixtureServer(options = {}) {
  const host = options.host || '127.0.0.1';
  const assetsDir = options.assetsDir || ASSETS_DIR;
  const fixtureFile = options.fixtureFile || FIXTURE_FILE;
  const defaultLang = options.defaultLang || 'zh';
  const readFixture = () => JSON.parse(readFileSync(fixtureFile, 'utf8'));

  let snapshot = readFixture();
  let eventsDown = false;
  const streams = new Set();

  function sendEvent(res) {
    res.write(`id: ${snapshot.sequence}\nevent: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
  }

  function publish(next) {
    const sequence = (snapshot.sequence || 0) + 1;
    snapshot = next;
    if (typeof snapshot.sequence !== 'number' || snapshot.sequence <= sequence - 1) snapshot.sequence = sequence;
    snapshot.generated_at = new Date(Date.parse(snapshot.generated_at || Date.now()) + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const res of streams) sendEvent(res);
    return snapshot;
  }

  function dropStreams() {
    for (const res of streams) res.socket?.destroy();
    streams.clear();
  }

  async function readBody(req) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > 1 << 20) throw new Error('body too large');
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8').trim();
    return text ? JSON.parse(text) : null;
  }

  function send(res, status, type, body, extra = {}) {
    res.writeHead(status, { 'Content-Type': type, 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', ...extra });
    res.end(body);
  }
  const sendJson = (res, status, value) => send(res, status, 'application/json', JSON.stringify(value), { 'Cache-Control': 'no-store' });

  async function control(req, res, url) {
    const body = await readBody(req);
    const next = structuredClone(snapshot);
    switch (url.pathname) {
      case '/fixture/next': {
        if (body && body.team !== undefined) {
          const team = next.teams.find((x) => x.team === body.team);
          const hour = team?.hours.find((h) => h.hour === body.hour);
          if (!hour) return sendJson(res, 400, { error: `no hour ${body.hour} of team ${body.team}` });
          hour.actual = body.actual;
        } else {
          for (const team of next.teams) {
            const hour = team.hours.find((h) => h.hour === next.shift.current_hour);
            if (hour) hour.actual = (hour.actual || 0) + 5;
          }
        }
        return sendJson(res, 200, publish(recompute(next)));
      }
      case '/fixture/patch':
        return sendJson(res, 200, publish(Object.assign(next, body || {})));
      case '/fixture/snapshot':
        return sendJson(res, 200, publish(body));
      case '/fixture/reset':
        return sendJson(res, 200, publish(readFixture()));
      case '/fixture/events/down':
        eventsDown = true;
        dropStreams();
        return sendJson(res, 200, { events_down: true });
      case '/fixture/events/up':
        eventsDown = false;
        return sendJson(res, 200, { events_down: false });
      default:
        return sendJson(res, 404, { error: 'no such fixture control' });
    }
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://fixture');
    const p = url.pathname;
    if (req.method === 'POST' && p.startsWith('/fixture/')) return control(req, res, url);
    if (req.method === 'GET' && p === '/fixture/state') {
      return sendJson(res, 200, { sequence: snapshot.sequence, streams: streams.size, events_down: eventsDown });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' });

    if (p === '/' || p === '/board') {
      res.writeHead(302, { Location: '/board/' + url.search });
      return res.end();
    }
    let view = null;
    let team = '';
    if (p === '/board/') view = 'overview';
    else if (p === '/board/tv' || p === '/board/tv/') view = 'tv';
    else if (p.startsWith('/board/teams/') && p.length > '/board/teams/'.length) {
      view = 'team';
      try {
        team = decodeURIComponent(p.slice('/board/teams/'.length));
      } catch {
        return sendJson(res, 400, { error: 'bad team in path' });
      }
    }
    if (view) {
      const template = await readFile(path.join(assetsDir, 'board.html'), 'utf8');
      const html = fillShell(template, {
        lang: pickLang(url, req.headers, defaultLang),
        view,
        team,
        title: snapshot.title || 'dutybridge',
      });
      const extra = { 'Cache-Control': 'no-store' };
      if (url.searchParams.get('fixture_token') !== 'none') {
        extra['Set-Cookie'] = `${VIEWER_COOKIE}=${VIEWER_TOKEN}; Path=/board/; HttpOnly; SameSite=Strict`;
      }
      return send(res, 200, 'text/html; charset=utf-8', html, extra);
    }

    if (p.startsWith('/board/assets/')) {
      const name = p.slice('/board/assets/'.length);
      const type = CONTENT_TYPES[path.extname(name)];
      if (!type || name !== path.basename(name) || name.startsWith('.')) return sendJson(res, 404, { error: 'no such asset' });
      try {
        return send(res, 200, type, await readFile(path.join(assetsDir, name)));
      } catch {
        return sendJson(res, 404, { error: 'no such asset' });
      }
    }

    if (p === '/board/api/v1/snapshot' || p === '/board/api/v1/events') {
      if (!hasViewerToken(req.headers)) return sendJson(res, 401, { error: 'no or wrong viewer token' });
      if (p === '/board/api/v1/snapshot') return sendJson(res, 200, snapshot);
      if (eventsDown) return req.socket.destroy();
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-store',
        'Content-Security-Policy': CSP,
        'X-Accel-Buffering': 'no',
      });
      // A short retry keeps the tests quick; the browser's default is a few seconds.
      res.write('retry: 1000\n\n');
      sendEvent(res);
      streams.add(res);
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), 15000);
      res.on('close', () => {
        clearInterval(keepalive);
        streams.delete(res);
      });
      return undefined;
    }
    return sendJson(res, 404, { error: 'not found' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(err && err.message) });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port || 0, host, resolve);
  });
  const { port } = server.address();
  const url = `http://${host}:${port}`;

  return {
    url,
    port,
    get snapshot() {
      return snapshot;
    },
    async close() {
      dropStreams();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// POST a control request to a running fixture server.
export async function fixtureControl(baseUrl, name, body) {
  const response = await fetch(`${baseUrl}/fixture/${name}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? '' : JSON.stringify(body),
  });
  const value = await response.json();
  if (!response.ok) throw new Error(`fixture ${name}: ${response.status} ${JSON.stringify(value)}`);
  return value;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--port');
  const port = at > 0 ? Number(process.argv[at + 1]) : 8088;
  const server = await startFixtureServer({ port });
  console.log(`fixture board at ${server.url}/board/ (POST ${server.url}/fixture/next to change numbers)`);
}
