// The shop-floor board end to end (issue 17): the real daemon reads a SQLite MES table through
// ODBC, the shipped mapping mappings/team_hourly_output.yaml turns the reports into HOUR facts
// on hr.duty-kpi.v1 of the real broker (exactly once; teams named for this run), and the daemon's board reads them back
// (read_committed) and serves the pages Chromium shows. The numbers on the pages must equal SQL
// sums over the source rows; a new report shows within 5 s without a reload, an edited one
// corrects its hour, a stopped source raises the stale banner, a wrong token gets no data, and
// both languages, the TV and the phone layouts work. Screenshots go to BOARD_SCREENSHOTS.
//
// Needs: DUTYBRIDGE_BINARY (the daemon), DUTYBRIDGE_TEST_KAFKA (the broker scripts/test starts),
// sqlite3 and the SQLite ODBC driver, Chromium and playwright-core (scripts/bootstrap).
// Run with tests/browser/run-e2e (ctest runs it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  launchChromium, openBoardPage, waitForTestId, testIdText, isVisible, byTestId, markPage, pageExtent,
  saveScreenshot, VIEWPORTS,
} from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const BINARY = process.env.DUTYBRIDGE_BINARY;
const KAFKA = process.env.DUTYBRIDGE_TEST_KAFKA;
const TOKEN = 'viewer-e2e-token';
const ADMIN_TOKEN = 'admin-e2e-token';
const PIPELINE = 'team-hourly-output';
// Team codes and leaders of this run: the facts go to hr.duty-kpi.v1 (the duty_kpi.v1 contract's
// topic), which other tests and runs write too, so the board shows their teams beside these; a
// fact key names the leader, not the team, so the leaders are this run's too.
const RUN = `${Date.now().toString(36)}${process.pid}`.toUpperCase();
const MOLD = `MOLD-${RUN}`;
const ASSY = `ASSY-${RUN}`;

let dir;
let db;
let daemon;
let daemonLog = '';
let boardUrl;
let adminUrl;
let browser;
let shift;  // the current shift as the board sees it: {shift_date, shift_code, hours, current_hour}
let reportNo = 0;

function sql(statement) {
  return execFileSync('sqlite3', [db, statement], { encoding: 'utf8' }).trim();
}

// UTC "YYYY-MM-DD HH:MM:SS" as the table stores times (the source reads them as UTC).
function sqlTime(ms) {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function report(team, hour, good, scrap = 0) {
  const slot = shift.hours[hour - 1];
  const end = Math.min(Date.parse(slot.end) - 1000, Date.now());  // the work ended inside the hour
  reportNo += 1;
  const no = `PR-E2E-${String(reportNo).padStart(4, '0')}`;
  sql(`INSERT INTO production_report (report_no, work_order_no, operation_code, product_code, workshop_code,
         team_code, operator_badge, shift_code, shift_date, time_from, time_to, good_qty, scrap_qty_labor,
         scrap_qty_mat, uom, state, updated_at)
       VALUES ('${no}', 'WO-1', 'OP010', 'HSG-2201', '${team.slice(0, 4)}', '${team}', 'B000123',
         '${shift.shift_code}', '${shift.shift_date}', '${sqlTime(end - 600000)}', '${sqlTime(end)}', ${good},
         ${scrap}, 0, 'PCS', 'ACCEPTED', '${sqlTime(Date.now())}')`);
  return no;
}

// SQL sums of what the board must show: ACCEPTED good quantity of a team in the shift, in total
// or in one hour (by time_to within the hour's bounds).
function sqlGood(team, hour) {
  let where = `team_code = '${team}' AND state = 'ACCEPTED' AND shift_date = '${shift.shift_date}'
               AND shift_code = '${shift.shift_code}'`;
  if (hour) {
    const slot = shift.hours[hour - 1];
    where += ` AND time_to >= '${sqlTime(Date.parse(slot.start))}' AND time_to < '${sqlTime(Date.parse(slot.end))}'`;
  }
  return String(Number(sql(`SELECT COALESCE(SUM(good_qty), 0) FROM production_report WHERE ${where}`)));
}

async function snapshot() {
  const response = await fetch(`${boardUrl}/board/api/v1/snapshot`, { headers: { cookie: `dutybridge_board=${TOKEN}` } });
  assert.equal(response.status, 200, `snapshot: ${response.status}`);
  return response.json();
}

async function waitFor(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- daemon log ---\n${daemonLog.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Starts `dutybridge run` on the test's config and learns the ports it bound (both 0 in the config).
async function startDaemon() {
  daemonLog = '';
  daemon = spawn(BINARY, ['run', '-c', path.join(dir, 'dutybridge.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stdout.on('data', (d) => { daemonLog += d; });
  daemon.stderr.on('data', (d) => { daemonLog += d; });
  await waitFor('the board and admin listeners', () => {
    const b = daemonLog.match(/board listening on (http:\/\/[0-9.]+:\d+)/);
    const a = daemonLog.match(/admin API listening on (http:\/\/[0-9.]+:\d+)/);
    if (b) boardUrl = b[1];
    if (a) adminUrl = a[1];
    return b && a;
  }, 30000);
}

async function stopDaemon() {
  if (!daemon || daemon.exitCode !== null) return;
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGTERM');
  await exited;
}

async function withBoard(url, options, body) {
  const handle = await openBoardPage(browser, url, options);
  try {
    await body(handle.page, handle);
    assert.deepEqual(await handle.problems(), [], 'the page reported problems');
  } catch (e) {
    await saveScreenshot(handle.page, 'e2e-failure').catch(() => {});
    const shown = await handle.page.evaluate(() => document.body.innerText).catch((err) => `(${err.message})`);
    e.message += `\n--- the page (${handle.page.url()}) ---\n${shown.slice(0, 2000)}\n--- its problems ---\n${(await handle.problems()).join('\n')}`;
    throw e;
  } finally {
    await handle.close();
  }
}

// The token link once: the board answers with a redirect and keeps the token as a cookie.
const withToken = (p) => `${boardUrl}/board/${p}${p.includes('?') ? '&' : '?'}token=${TOKEN}`;

before(async () => {
  assert.ok(BINARY, 'DUTYBRIDGE_BINARY is not set (run through ctest or tests/browser/run-e2e)');
  assert.ok(KAFKA, 'DUTYBRIDGE_TEST_KAFKA is not set: start the broker (scripts/test does, or scripts/kafka-local start)');
  dir = mkdtempSync(path.join(tmpdir(), 'board-e2e-'));
  db = path.join(dir, 'mes.db');
  sql(`CREATE TABLE production_report (report_id INTEGER PRIMARY KEY, report_no TEXT UNIQUE NOT NULL,
         work_order_no TEXT, operation_code TEXT, product_code TEXT, workstation_code TEXT, workshop_code TEXT,
         team_code TEXT, operator_badge TEXT, shift_code TEXT, shift_date DATE, time_from TIMESTAMP, time_to TIMESTAMP,
         good_qty NUMERIC(12,3), scrap_qty_labor NUMERIC(12,3), scrap_qty_mat NUMERIC(12,3), uom TEXT, state TEXT,
         updated_at TIMESTAMP NOT NULL)`);
  sql(`CREATE TABLE work_order_hour_plan (plan_id INTEGER PRIMARY KEY, work_order_no TEXT, team_code TEXT,
         shift_date DATE, shift_code TEXT, hour INTEGER, planned_qty NUMERIC(12,3), updated_at TIMESTAMP NOT NULL)`);
  const run = RUN.toLowerCase();
  // The shipped mapping with this run's teams in its team_leader table (an overlay).
  writeFileSync(path.join(dir, 'team_hourly_output.yaml'), `
extends: ${REPO}/mappings/team_hourly_output.yaml
tables:
  team_leader:
    rows: {${MOLD}: E${RUN}1, ${ASSY}: E${RUN}2}
`);
  writeFileSync(path.join(dir, 'dutybridge.yaml'), `
kafka:
  bootstrap_servers: ${KAFKA}
  client_id: board-e2e
  state_topic: board-e2e-state-${run}
  dlq_topic: board-e2e-dlq-${run}
  state_key: board-e2e-state-key-0123456789abcdef
admin:
  enabled: true
  listen: 127.0.0.1:0
  token: ${ADMIN_TOKEN}
board:
  enabled: true
  listen: 127.0.0.1:0
  viewer_token: ${TOKEN}
  calendars: ${REPO}/config/calendars.yaml
  calendar: plant-01-12h
  catalog: ${REPO}/config/duties.yaml
  plan_topic: mes.hourly-plan.v1
  stale_after: 6s
  title: E2E plant
log:
  level: info
pipelines:
  - name: ${PIPELINE}
    commit_interval: 200ms
    source:
      type: odbc
      connection: "Driver=SQLite3;Database=${db};Timeout=10000"
      table: production_report
      mode: timestamp+incrementing
      timestamp_column: updated_at
      incrementing_column: report_id
      timestamp_zone: UTC
      commit_lag: 0s
      poll_interval: 300ms
    mapping: ${path.join(dir, 'team_hourly_output.yaml')}
    sink:
      type: kafka
      topic: hr.duty-kpi.v1
      # One partition, as the broker's auto-creation makes it (other tests of this broker count on it).
      create_topic: true
      partitions: 1
  - name: mes-hourly-plan
    commit_interval: 200ms
    source:
      type: odbc
      connection: "Driver=SQLite3;Database=${db};Timeout=10000"
      table: work_order_hour_plan
      mode: timestamp+incrementing
      timestamp_column: updated_at
      incrementing_column: plan_id
      timestamp_zone: UTC
      commit_lag: 0s
      poll_interval: 300ms
    mapping: ${REPO}/mappings/mes_hourly_plan.yaml
    sink:
      type: kafka
      topic: mes.hourly-plan.v1
      create_topic: true
      partitions: 3
`);
  await startDaemon();
  // The shift and its hours as the board sees them; a shift about to end is waited out.
  shift = (await waitFor('the first snapshot', async () => (await fetch(`${boardUrl}/board/api/v1/snapshot`, {
    headers: { cookie: `dutybridge_board=${TOKEN}` } })).status === 200 && (await snapshot()).shift, 30000));
  if (Date.parse(shift.end) - Date.now() < 180000) {
    await new Promise((r) => setTimeout(r, Date.parse(shift.end) - Date.now() + 15000));
    shift = (await snapshot()).shift;
  }
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopDaemon();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the board shows SQL sums, follows new and edited reports live, and flags stale data', async () => {
  try {
    await boardScenario();
  } catch (e) {
    let pipelines = '';
    try {
      pipelines = await (await fetch(`${adminUrl}/api/v1/pipelines`)).text();
    } catch (err) {
      pipelines = `(admin API: ${err.message})`;
    }
    e.message += `\n--- the daemon's log (last lines) ---\n${daemonLog.split('\n').slice(-60).join('\n')}`;
    e.message += `\n--- GET /api/v1/pipelines ---\n${pipelines}`;
    try {
      e.message += `\n--- the board's snapshot ---\n${JSON.stringify(await snapshot())}`;
    } catch (err) {
      e.message += `\n(snapshot: ${err.message})`;
    }
    e.message += `\n--- the source table ---\n${sql('SELECT report_no, team_code, shift_date, shift_code, time_to, good_qty, updated_at FROM production_report')}`;
    throw e;
  }
});

async function boardScenario() {
  const now = shift.current_hour;
  const first = 1;
  report(MOLD, first, 100, 2);
  const edited = report(MOLD, now, 40);
  report(ASSY, now, 25, 1);

  await withBoard(withToken('?lang=en'), {}, async (page) => {
    // The redirect took the token out of the address.
    assert.ok(!page.url().includes('token='), page.url());
    const card = byTestId(`team-${MOLD}`);
    await waitForTestId(page, 'card-actual', sqlGood(MOLD), { within: card, timeout: 20000 });
    await waitForTestId(page, 'card-actual', sqlGood(ASSY), { within: byTestId(`team-${ASSY}`), timeout: 5000 });
    assert.equal(await testIdText(page, 'card-status', card).then((t) => t.length > 0), true);
  });

  await withBoard(withToken(`teams/${MOLD}?lang=en`), {}, async (page) => {
    await waitForTestId(page, `actual-h${now}`, sqlGood(MOLD, now), { timeout: 10000 });
    await waitForTestId(page, `actual-h${first}`, sqlGood(MOLD, first), { timeout: 5000 });
    await waitForTestId(page, 'total-actual', sqlGood(MOLD), { timeout: 5000 });
    // The team leader's shift target (config/duties.yaml: 1300 since 2025-04-01) over the 12
    // hours of a plant-01-12h shift.
    assert.equal(await testIdText(page, `plan-h${now}`), (1300 / 12).toFixed(1));

    // A new report: the hour's actual changes within 5 s, in place.
    const marker = await markPage(page);
    report(MOLD, now, 15);
    await waitForTestId(page, `actual-h${now}`, sqlGood(MOLD, now), { timeout: 5000 });
    assert.equal(await marker.samePage(), true, 'the page reloaded');

    // An edited report (40 -> 30): the correction shows and the hour is marked.
    // The edit's updated_at must be later than the cursor (the last report's, to the second, with
    // a higher id): a second ahead, as an MES clock would be by the time a supervisor edits.
    sql(`UPDATE production_report SET good_qty = 30, updated_at = '${sqlTime(Date.now() + 1000)}' WHERE report_no = '${edited}'`);
    await waitForTestId(page, `actual-h${now}`, sqlGood(MOLD, now), { timeout: 5000 });
    await page.waitForSelector(byTestId(`corrected-h${now}`), { timeout: 5000 });
    assert.equal(await marker.samePage(), true, 'the page reloaded');
    await saveScreenshot(page, 'e2e-team-en');
  });

  // ASSY's plan comes from the MES plan table (two work orders in the current hour, a break in
  // the first), MOLD's from the catalog.
  const planned = (hour, qty, wo) => sql(`INSERT INTO work_order_hour_plan (work_order_no, team_code, shift_date,
      shift_code, hour, planned_qty, updated_at) VALUES ('${wo}', '${ASSY}', '${shift.shift_date}', '${shift.shift_code}',
      ${hour}, ${qty}, '${sqlTime(Date.now())}')`);
  planned(now, 50, 'WO-A');
  planned(now, 30, 'WO-B');
  if (now !== first) planned(first, 0, 'WO-A');
  await withBoard(withToken(`teams/${ASSY}?lang=en`), {}, async (page) => {
    await waitForTestId(page, `plan-h${now}`, '80', { timeout: 10000 });
    await waitForTestId(page, 'plan-shift', '80', { timeout: 5000 });
    assert.equal(await testIdText(page, `actual-h${now}`), sqlGood(ASSY, now));
  });

  // Chinese, the TV (1920x1080 without scrolling) and the phone (no sideways overflow).
  await withBoard(withToken(`tv?teams=${MOLD},${ASSY}&lang=zh`), { viewport: VIEWPORTS.tv, locale: 'zh-CN' }, async (page) => {
    assert.equal(await page.getAttribute('html', 'lang'), 'zh');
    await waitForTestId(page, 'total-actual', /\d/, { timeout: 10000 });
    const extent = await pageExtent(page);
    assert.ok(extent.scrollHeight <= extent.innerHeight && extent.scrollWidth <= extent.innerWidth, JSON.stringify(extent));
    await saveScreenshot(page, 'board-tv');
  });
  await withBoard(withToken(`teams/${MOLD}?lang=zh`), { viewport: VIEWPORTS.phone, locale: 'zh-CN', context: { isMobile: true, hasTouch: true } }, async (page) => {
    await waitForTestId(page, `actual-h${now}`, sqlGood(MOLD, now), { timeout: 10000 });
    assert.equal(await testIdText(page, 'total-status').then((t) => /[\u4e00-\u9fff]/.test(t)), true, 'status in Chinese');
    const extent = await pageExtent(page);
    assert.ok(extent.scrollWidth <= extent.innerWidth, JSON.stringify(extent));
    await saveScreenshot(page, 'board-phone');
  });

  // A wrong token gets no data: the page says why, the API answers 401.
  await withBoard(`${boardUrl}/board/?token=wrong`, { ignore: (m) => /401|Unauthorized/.test(m) }, async (page) => {
    await page.waitForSelector(byTestId('auth-error'), { timeout: 5000 });
    assert.equal(await page.locator(byTestId(`team-${MOLD}`)).count(), 0);
  });
  const denied = await fetch(`${boardUrl}/board/api/v1/snapshot`, { headers: { cookie: 'dutybridge_board=wrong' } });
  assert.equal(denied.status, 401);
  assert.ok(!(await denied.text()).includes(MOLD));

  // A restart: the board reads the shift back from the topic (nothing of it is kept elsewhere).
  await stopDaemon();
  await startDaemon();
  await withBoard(withToken(`teams/${MOLD}?lang=en`), {}, async (page) => {
    await waitForTestId(page, `actual-h${now}`, sqlGood(MOLD, now), { timeout: 15000 });
    await waitForTestId(page, 'total-actual', sqlGood(MOLD), { timeout: 5000 });
  });

  // The source stops: once the newest fact is older than stale_after (6 s) the banner shows.
  await withBoard(withToken('?lang=en'), {}, async (page) => {
    const stop = await fetch(`${adminUrl}/api/v1/pipelines/${PIPELINE}/stop`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.ok(stop.status < 300, `stop: ${stop.status}`);
    await page.waitForSelector(`${byTestId('stale-banner')}:visible`, { timeout: 20000 });
    assert.equal(await isVisible(page, 'stale-banner'), true);
  });
}
