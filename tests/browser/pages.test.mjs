// Page tests of the shop-floor board (issue 17) in Chromium, against the
// fixture server (no daemon): the pages render the fixture's numbers in both
// languages, follow pushed snapshots in place, show the stale, connection and
// no-token states, fit a 1080p TV without scrolling and a phone without
// sideways overflow, and break no rule of the Content-Security-Policy.
// Run with tests/browser/run-pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFixtureServer, fixtureControl } from './fixture_server.mjs';
import {
  launchChromium, openBoardPage, waitForTestId, testIdText, isVisible, byTestId,
  markPage, pageExtent, saveScreenshot, VIEWPORTS,
} from './lib.mjs';

let server;
let browser;

before(async () => {
  server = await startFixtureServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const board = (path) => `${server.url}/board/${path}`;

// Open a page, wait for the fixture's snapshot on screen, run `body`, and then
// fail on any CSP violation, script error or failed request.
async function withPage(url, options, body) {
  const handle = await openBoardPage(browser, url, options);
  try {
    if (!options.noData) await handle.page.waitForSelector('#board[data-sequence]', { timeout: 5000 });
    await body(handle.page, handle);
    assert.deepEqual(await handle.problems(), [], 'the page reported problems');
  } finally {
    await handle.close();
  }
}

async function reset() {
  await fixtureControl(server.url, 'reset');
  await fixtureControl(server.url, 'events/up');
}

const card = (team) => byTestId(`team-${team}`);

test('overview in Chinese: every team as a card with the fixture numbers', async () => {
  await reset();
  await withPage(board('?lang=zh'), {}, async (page) => {
    assert.equal(await page.getAttribute('html', 'lang'), 'zh');
    assert.equal(await testIdText(page, 'shift-code'), 'A');
    assert.equal(await testIdText(page, 'shift-date'), '2026-12-07');
    assert.equal(await testIdText(page, 'current-hour'), '10:00');
    assert.equal(await page.locator('[data-testid="team-list"] > li').count(), 4);

    assert.equal(await testIdText(page, 'card-actual', card('MOLD-T1')), '240');
    assert.equal(await testIdText(page, 'card-plan-to-now', card('MOLD-T1')), '250');
    assert.equal(await testIdText(page, 'card-percent', card('MOLD-T1')), '96.0%');
    assert.equal(await testIdText(page, 'card-status', card('MOLD-T1')), '达成计划');
    assert.equal(await testIdText(page, 'card-fpy', card('MOLD-T1')), '97.5%');
    assert.equal(await testIdText(page, 'card-scrap', card('MOLD-T1')), '6');
    // 02:39:58Z is 10:39 in Asia/Shanghai, whatever the browser's own zone (UTC here).
    assert.equal(await testIdText(page, 'card-newest', card('MOLD-T1')), '10:39');

    assert.equal(await page.getAttribute(card('MACH-T2'), 'data-status'), 'behind');
    assert.equal(await testIdText(page, 'card-status', card('MACH-T2')), '落后');
    assert.equal(await page.getAttribute(card('ASSY-T3'), 'data-status'), 'far_behind');
    assert.equal(await testIdText(page, 'card-status', card('ASSY-T3')), '严重落后');
    assert.equal(await testIdText(page, 'card-percent', card('PACK-T4')), '—');
    assert.equal(await testIdText(page, 'card-status', card('PACK-T4')), '无计划');

    // The bar is as long as the percentage of the plan to now.
    const ratio = await page.$eval(`${card('ASSY-T3')} ${byTestId('card-bar')}`, (bar) => bar.getBoundingClientRect().width / bar.parentElement.getBoundingClientRect().width);
    assert.ok(Math.abs(ratio - 0.75) < 0.02, `bar at ${ratio}, expected 0.75`);

    assert.equal(await page.getAttribute(`${card('MOLD-T1')} ${byTestId('card-link')}`, 'href'), '/board/teams/MOLD-T1?lang=zh');
    assert.equal(await isVisible(page, 'stale-banner'), false);
    assert.equal(await isVisible(page, 'conn-lost'), false);
  });
});

test('overview in English, the language taken from Accept-Language', async () => {
  await reset();
  await withPage(board(''), { locale: 'en-GB' }, async (page) => {
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await testIdText(page, 'card-status', card('MOLD-T1')), 'On plan');
    assert.equal(await testIdText(page, 'card-status', card('ASSY-T3')), 'Far behind');
    assert.equal(await testIdText(page, 'lang-switch'), '中文');
  });
  await withPage(board(''), { locale: 'zh-CN' }, async (page) => {
    assert.equal(await page.getAttribute('html', 'lang'), 'zh');
    assert.equal(await testIdText(page, 'card-status', card('MACH-T2')), '落后');
  });
});

for (const lang of ['zh', 'en']) {
  test(`team board (${lang}): hour-by-hour table, totals, chart, history`, async () => {
    await reset();
    await withPage(board(`teams/ASSY-T3?lang=${lang}`), {}, async (page) => {
      assert.equal(await testIdText(page, 'team-name'), 'ASSY-T3');
      assert.equal(await testIdText(page, 'plan-shift'), '960');
      assert.equal(await testIdText(page, 'plan-to-now'), '300');
      assert.equal(await testIdText(page, 'total-actual'), '225');
      assert.equal(await testIdText(page, 'total-percent'), '75.0%');
      assert.equal(await testIdText(page, 'total-status'), lang === 'zh' ? '严重落后' : 'Far behind');
      assert.equal(await testIdText(page, 'total-scrap'), '12');
      assert.equal(await testIdText(page, 'total-fpy'), '94.3%');
      const heads = await page.$$eval('[data-testid="hour-table"] thead th', (ths) => ths.map((th) => th.textContent));
      assert.deepEqual(heads, lang === 'zh'
        ? ['时段', '计划', '实际', '累计计划', '累计实际', '差异', '报废', '一次合格率']
        : ['Hour', 'Plan', 'Actual', 'Cum. plan', 'Cum. actual', 'Variance', 'Scrap', 'FPY']);

      assert.equal(await page.locator('[data-testid="hour-table"] tbody tr').count(), 8);
      assert.equal(await testIdText(page, 'label-h1'), '08:00');
      assert.equal(await testIdText(page, 'plan-h2'), '120');
      assert.equal(await testIdText(page, 'actual-h2'), '95');
      assert.equal(await testIdText(page, 'cum-plan-h2'), '240');
      assert.equal(await testIdText(page, 'cum-actual-h2'), '195');
      assert.equal(await testIdText(page, 'variance-h2'), '-45');
      assert.equal(await testIdText(page, 'scrap-h2'), '6');
      assert.equal(await testIdText(page, 'fpy-h2'), '93.7%');
      assert.match(await page.getAttribute(byTestId('variance-h2'), 'class'), /\bvar-neg\b/);
      // Hours after the current one have no actual numbers yet.
      assert.equal(await testIdText(page, 'actual-h5'), '—');
      assert.equal(await testIdText(page, 'cum-plan-h5'), '600');

      assert.equal(await page.getAttribute(byTestId('hour-row-h3'), 'data-state'), 'current');
      assert.equal(await page.getAttribute(byTestId('hour-row-h3'), 'aria-current'), 'true');
      assert.equal(await page.getAttribute(byTestId('hour-row-h2'), 'data-state'), 'past');
      assert.equal(await page.getAttribute(byTestId('hour-row-h4'), 'data-state'), 'future');

      // Hour 2 was corrected after the fact; no other hour is marked.
      assert.equal(await page.locator('[data-testid^="corrected-h"]').count(), 1);
      assert.equal(await isVisible(page, 'corrected-h2'), true);
      assert.equal(await page.getAttribute(byTestId('corrected-h2'), 'title'), lang === 'zh' ? '已更正（报工修改或退回）' : 'Corrected after the fact (edited or declined report)');
      assert.equal(await isVisible(page, 'corrected-legend'), true);

      // The chart: a plan point for every hour, an actual bar up to the current hour.
      const planPoints = (await page.getAttribute(byTestId('chart-plan-line'), 'points')).trim().split(/\s+/);
      assert.equal(planPoints.length, 8);
      assert.ok(Number(await page.getAttribute(byTestId('chart-actual-h3'), 'height')) > 0);
      assert.equal(Number(await page.getAttribute(byTestId('chart-actual-h4'), 'height')), 0);

      assert.equal(await page.locator('[data-testid="history-table"] tbody tr').count(), 1);
      assert.match(await testIdText(page, 'history-row-0'), /2026-12-06 C/);
      // The fixture lists no employees for this team, and show_employees is false anyway.
      assert.equal(await isVisible(page, 'employees'), false);
      assert.equal(await page.getAttribute(byTestId('back-link'), 'href'), `/board/?lang=${lang}`);
    });
  });
}

test('team board: a pushed snapshot changes the cell in place, without a reload', async () => {
  await reset();
  await withPage(board('teams/MOLD-T1?lang=en'), {}, async (page) => {
    assert.equal(await testIdText(page, 'actual-h3'), '40');
    const marker = await markPage(page);
    const row = await page.$(byTestId('hour-row-h3'));
    const sequence = Number(await page.getAttribute('#board', 'data-sequence'));

    const pushed = await fixtureControl(server.url, 'next', { team: 'MOLD-T1', hour: 3, actual: 77 });
    await waitForTestId(page, 'actual-h3', '77', { timeout: 5000 });
    await waitForTestId(page, 'cum-actual-h3', '277');
    await waitForTestId(page, 'total-actual', '277');
    await waitForTestId(page, 'total-percent', '110.8%');
    assert.equal(Number(await page.getAttribute('#board', 'data-sequence')), pushed.sequence);
    assert.ok(pushed.sequence > sequence);

    assert.equal(await marker.samePage(), true, 'the page was reloaded');
    assert.equal(await row.evaluate((tr) => tr.isConnected), true, 'the row was replaced instead of updated');
  });
});

test('overview: a pushed snapshot changes a card in place', async () => {
  await reset();
  await withPage(board('?lang=zh'), {}, async (page) => {
    const marker = await markPage(page);
    const node = await page.$(card('MACH-T2'));
    await fixtureControl(server.url, 'next', { team: 'MACH-T2', hour: 3, actual: 40 });
    await waitForTestId(page, 'card-actual', '153', { within: card('MACH-T2') });
    await waitForTestId(page, 'card-status', '达成计划', { within: card('MACH-T2') });
    assert.equal(await page.getAttribute(card('MACH-T2'), 'data-status'), 'on_plan');
    assert.equal(await marker.samePage(), true);
    assert.equal(await node.evaluate((li) => li.isConnected), true);
  });
});

test('stale data: a prominent banner with the newest data time in plant time', async () => {
  await reset();
  await withPage(board('teams/MOLD-T1?lang=zh'), {}, async (page) => {
    assert.equal(await isVisible(page, 'stale-banner'), false);
    await fixtureControl(server.url, 'patch', { stale: true, newest_data_at: '2026-12-07T02:30:00Z' });
    await waitForTestId(page, 'stale-banner', '数据已过期：最新数据时间 10:30');
    assert.equal(await isVisible(page, 'stale-banner'), true);
  });
  await withPage(board('?lang=en'), {}, async (page) => {
    await waitForTestId(page, 'stale-banner', 'Data is stale: newest data at 10:30');
  });
});

test('stale data: the page turns stale by itself when no snapshot comes', async () => {
  await reset();
  // The snapshot says not stale; its newest data is about 1 s old when generated, and
  // stale after 3 s. No further snapshot comes: the page must notice by itself.
  const generated = Date.parse((await fixtureControl(server.url, 'patch', {})).generated_at);
  await fixtureControl(server.url, 'patch', { stale: false, stale_after_seconds: 3, newest_data_at: new Date(generated).toISOString() });
  await withPage(board('?lang=en'), {}, async (page) => {
    await waitForTestId(page, 'stale-banner', /^Data is stale: newest data at 10:40$/, { timeout: 6000 });
  });
});

test('employees are shown only when show_employees is true', async () => {
  await reset();
  await withPage(board('teams/MOLD-T1?lang=en'), {}, async (page) => {
    assert.equal(await isVisible(page, 'employees'), false);
    await fixtureControl(server.url, 'patch', { show_employees: true });
    await page.waitForSelector(byTestId('employees'), { state: 'visible', timeout: 5000 });
    assert.match(await testIdText(page, 'employee-row-0'), /^E10023\s*120$/);
    await fixtureControl(server.url, 'patch', { show_employees: false });
    await page.waitForSelector(byTestId('employees'), { state: 'hidden', timeout: 5000 });
  });
});

test('no teams yet: the overview says so', async () => {
  await reset();
  await fixtureControl(server.url, 'patch', { teams: [] });
  await withPage(board('?lang=zh'), {}, async (page) => {
    await waitForTestId(page, 'empty', '本班次暂无数据。');
    assert.equal(await page.locator('[data-testid="team-list"] > li').count(), 0);
  });
});

test('a team without data in this shift: the team board says so', async () => {
  await reset();
  await withPage(board('teams/NO-SUCH?lang=en'), {}, async (page) => {
    await waitForTestId(page, 'team-missing', 'No data for team NO-SUCH in this shift yet.');
  });
});

test('the event stream down: an indicator while it reconnects, then live again', async () => {
  await reset();
  // Chromium logs the stream cut on purpose as an incomplete response.
  const ignore = (m) => /ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/.test(m);
  await withPage(board('teams/MOLD-T1?lang=en'), { ignore }, async (page) => {
    const marker = await markPage(page);
    assert.equal(await isVisible(page, 'conn-lost'), false);
    await fixtureControl(server.url, 'events/down');
    await page.waitForSelector(byTestId('conn-lost'), { state: 'visible', timeout: 5000 });
    assert.equal(await testIdText(page, 'conn-lost'), 'Connection lost, reconnecting…');
    await fixtureControl(server.url, 'next', { team: 'MOLD-T1', hour: 3, actual: 55 });
    await fixtureControl(server.url, 'events/up');
    // Reconnected by EventSource itself; the snapshot sent on connect is the new one.
    await waitForTestId(page, 'actual-h3', '55', { timeout: 8000 });
    await page.waitForSelector(byTestId('conn-lost'), { state: 'hidden', timeout: 5000 });
    assert.equal(await marker.samePage(), true);
  });
});

test('no viewer token: a clear message and no numbers', async () => {
  await reset();
  await withPage(board('?lang=zh&fixture_token=none'), { noData: true, ignore: (m) => /401/.test(m) }, async (page) => {
    await page.waitForSelector(byTestId('auth-error'), { state: 'visible', timeout: 5000 });
    assert.match(await testIdText(page, 'auth-error'), /看板令牌缺失或无效/);
    assert.equal(await page.locator('[data-testid^="team-"]').count(), 0);
    assert.equal(await page.getAttribute('#board', 'data-sequence'), null);
  });
  await withPage(board('teams/MOLD-T1?lang=en&fixture_token=none'), { noData: true, ignore: (m) => /401/.test(m) }, async (page) => {
    await page.waitForSelector(byTestId('auth-error'), { state: 'visible', timeout: 5000 });
    assert.match(await testIdText(page, 'auth-error'), /board token is missing or wrong/);
    assert.equal(await page.locator(byTestId('hour-table')).count(), 0);
  });
});

test('TV at 1920x1080: one team at a time, rotating, no scrolling, large type', async () => {
  await reset();
  await withPage(board('tv?teams=ASSY-T3,MOLD-T1,NOT-HERE&rotate=5&lang=zh'), { viewport: VIEWPORTS.tv }, async (page) => {
    await waitForTestId(page, 'team-name', 'ASSY-T3');
    assert.equal(await testIdText(page, 'tv-position'), '1 / 2');
    assert.equal(await isVisible(page, 'tv-progress'), true);
    assert.equal(await page.locator(byTestId('hour-table')).count(), 1);
    assert.equal(await page.locator(byTestId('chart')).count(), 1);

    const extent = await pageExtent(page);
    assert.ok(extent.scrollHeight <= extent.innerHeight, `TV page scrolls vertically: ${JSON.stringify(extent)}`);
    assert.ok(extent.scrollWidth <= extent.innerWidth, `TV page scrolls sideways: ${JSON.stringify(extent)}`);
    // Not merely clipped: the last hour row and the chart are inside the screen.
    const bottoms = await page.evaluate(() => ['hour-row-h8', 'chart'].map((id) => document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect().bottom));
    for (const bottom of bottoms) assert.ok(bottom <= 1080, `something ends at ${bottom}px, below the screen`);
    // Readable from 5 m: the hour numbers at least 32 px, the totals larger.
    const sizes = await page.evaluate(() => ['actual-h3', 'total-actual'].map((id) => parseFloat(getComputedStyle(document.querySelector(`[data-testid="${id}"]`)).fontSize)));
    assert.ok(sizes[0] >= 32, `table type ${sizes[0]}px`);
    assert.ok(sizes[1] >= 48, `totals type ${sizes[1]}px`);
    await saveScreenshot(page, 'tv-zh-ASSY-T3');

    const marker = await markPage(page);
    await waitForTestId(page, 'team-name', 'MOLD-T1', { timeout: 8000 });
    assert.equal(await testIdText(page, 'tv-position'), '2 / 2');
    assert.equal(await testIdText(page, 'actual-h3'), '40');
    assert.equal(await marker.samePage(), true);
    await saveScreenshot(page, 'tv-zh-MOLD-T1');
  });
});

test('TV in English, all teams; the stale banner still fits the screen', async () => {
  await reset();
  await withPage(board('tv?lang=en'), { viewport: VIEWPORTS.tv }, async (page) => {
    await waitForTestId(page, 'team-name', 'MOLD-T1');
    assert.equal(await testIdText(page, 'tv-position'), '1 / 4');
    await fixtureControl(server.url, 'patch', { stale: true, newest_data_at: '2026-12-07T02:30:00Z' });
    await waitForTestId(page, 'stale-banner', 'Data is stale: newest data at 10:30');
    const extent = await pageExtent(page);
    assert.ok(extent.scrollHeight <= extent.innerHeight, `TV page scrolls with the banner: ${JSON.stringify(extent)}`);
    await saveScreenshot(page, 'tv-en-stale');
  });
});

test('TV with ?teams= empty: the plant overview in TV size', async () => {
  await reset();
  await withPage(board('tv?teams=&lang=zh'), { viewport: VIEWPORTS.tv }, async (page) => {
    assert.equal(await page.locator('[data-testid="team-list"] > li').count(), 4);
    assert.equal(await isVisible(page, 'tv-progress'), false);
    const extent = await pageExtent(page);
    assert.ok(extent.scrollHeight <= extent.innerHeight, JSON.stringify(extent));
    await saveScreenshot(page, 'tv-zh-overview');
  });
});

for (const lang of ['zh', 'en']) {
  test(`phone 390x844 (${lang}): one column, no sideways overflow`, async () => {
    await reset();
    await withPage(board(`teams/ASSY-T3?lang=${lang}`), { viewport: VIEWPORTS.phone }, async (page) => {
      const extent = await pageExtent(page);
      assert.ok(extent.scrollWidth <= extent.innerWidth, `team page overflows sideways: ${JSON.stringify(extent)}`);
      assert.equal(await isVisible(page, 'cum-plan-h2'), false, 'the cumulative columns are left out on phones');
      assert.equal(await isVisible(page, 'actual-h2'), true);
      await saveScreenshot(page, `phone-${lang}-team`);
    });
    await withPage(board(`?lang=${lang}`), { viewport: VIEWPORTS.phone }, async (page) => {
      const extent = await pageExtent(page);
      assert.ok(extent.scrollWidth <= extent.innerWidth, `overview overflows sideways: ${JSON.stringify(extent)}`);
      const lefts = await page.$$eval('[data-testid="team-list"] > li', (lis) => lis.map((li) => Math.round(li.getBoundingClientRect().left)));
      assert.equal(new Set(lefts).size, 1, `cards not in one column: ${lefts}`);
      await saveScreenshot(page, `phone-${lang}-overview`);
    });
  });
}

test('desktop screenshots of the overview and a team board', async () => {
  await reset();
  await withPage(board('?lang=zh'), {}, async (page) => {
    await saveScreenshot(page, 'desktop-zh-overview');
  });
  await withPage(board('teams/ASSY-T3?lang=en'), {}, async (page) => {
    await saveScreenshot(page, 'desktop-en-team');
  });
});
