/*
 * dutybridge shop-floor board (issue 17): the browser side of /board/.
 *
 * The daemon serves board.html as a shell with {{lang}}, {{view}}, {{team}} and
 * {{title}} filled in; this script builds everything else from
 * /board/api/v1/snapshot and keeps it current from the Server-Sent Events of
 * /board/api/v1/events, changing text, classes and bar sizes of the existing
 * nodes (no reload, no re-render of the page on every event).
 *
 * Rules that the Content-Security-Policy and plant data impose on this file:
 * no inline style attributes (only CSSOM: el.style.width / setProperty), no
 * innerHTML, every text from the data through textContent or setAttribute.
 *
 * Views (body data-view):
 *   overview  /board/                    every team of the shift as a card
 *   team      /board/teams/{team}        the hour-by-hour board of one team
 *   tv        /board/tv?teams=A,B&rotate=20
 *             1920x1080, one team board at a time, rotating every `rotate`
 *             seconds (default 20, at least 5). Without `teams`: all teams of
 *             the snapshot in its order. With `teams=` present but empty: the
 *             plant overview in TV size, without rotation.
 *   ?lang=zh|en is kept on every link the board makes.
 *
 * data-testid values (stable; tests read them):
 *   page frame   board-title, shift-info, shift-code, shift-date, current-hour,
 *                clock, conn-lost, stale-banner, auth-error, load-error,
 *                loading, lang-switch, back-link
 *   overview     team-list, empty, team-{TEAM} (one card per team; it carries
 *                data-status) and inside each card: card-link, card-team,
 *                card-status, card-percent, card-actual, card-plan-to-now,
 *                card-bar, card-plan-shift, card-scrap, card-fpy, card-newest
 *   team board   team-board (data-team, data-status), team-missing, team-name,
 *                total-status, plan-shift, plan-to-now, total-actual,
 *                total-percent, total-scrap, total-fpy, team-newest,
 *                hour-table, hour-row-h{N} (data-state past|current|future),
 *                label-h{N}, plan-h{N}, actual-h{N}, cum-plan-h{N},
 *                cum-actual-h{N}, variance-h{N}, scrap-h{N}, fpy-h{N},
 *                corrected-h{N} (present only on a corrected hour),
 *                corrected-legend, chart, chart-plan-line, chart-actual-h{N},
 *                history, history-table, history-row-{I} (0 = newest),
 *                employees, employee-row-{I}
 *   tv           tv-position, tv-progress
 * The board root (#board) carries data-sequence (the sequence of the snapshot
 * on screen), data-connection (up|down) and data-lang.
 */
'use strict';

(function () {
  const MESSAGES = {
    zh: {
      board: '生产看板',
      overview: '全厂总览',
      back: '← 全厂总览',
      shift: '班次',
      shift_date: '班次日期',
      current_hour: '当前时段',
      hour: '时段',
      team: '班组',
      plan: '计划',
      actual: '实际',
      cum_plan: '累计计划',
      cum_actual: '累计实际',
      variance: '差异',
      scrap: '报废',
      fpy: '一次合格率',
      plan_shift: '班次计划',
      plan_to_now: '截至当前计划',
      attainment: '达成率',
      newest: '最新数据',
      status_on_plan: '达成计划',
      status_behind: '落后',
      status_far_behind: '严重落后',
      status_no_plan: '无计划',
      stale: '数据已过期：最新数据时间 {time}',
      stale_never: '数据已过期：尚无数据',
      conn_lost: '连接中断，正在重连…',
      auth: '无权查看看板：看板令牌缺失或无效。请联系管理员重新打开看板链接。',
      load_error: '无法加载看板数据，正在重试…',
      loading: '正在加载…',
      empty: '本班次暂无数据。',
      team_missing: '班组 {team} 在本班次暂无数据。',
      corrected: '已更正（报工修改或退回）',
      corrected_legend: '✎ 该时段数据已事后更正（报工修改或退回）',
      chart: '累计计划与累计实际',
      history: '近期班次对比',
      employees: '员工产量',
      employee: '员工',
      switch_lang: 'English',
      tv_position: '{i} / {n}',
    },
    en: {
      board: 'Production board',
      overview: 'Plant overview',
      back: '← Plant overview',
      shift: 'Shift',
      shift_date: 'Shift date',
      current_hour: 'Current hour',
      hour: 'Hour',
      team: 'Team',
      plan: 'Plan',
      actual: 'Actual',
      cum_plan: 'Cum. plan',
      cum_actual: 'Cum. actual',
      variance: 'Variance',
      scrap: 'Scrap',
      fpy: 'FPY',
      plan_shift: 'Shift plan',
      plan_to_now: 'Plan to now',
      attainment: 'Attainment',
      newest: 'Newest data',
      status_on_plan: 'On plan',
      status_behind: 'Behind',
      status_far_behind: 'Far behind',
      status_no_plan: 'No plan',
      stale: 'Data is stale: newest data at {time}',
      stale_never: 'Data is stale: no data yet',
      conn_lost: 'Connection lost, reconnecting…',
      auth: 'Not allowed to view the board: the board token is missing or wrong. Ask the administrator for the board link.',
      load_error: 'Cannot load the board data; retrying…',
      loading: 'Loading…',
      empty: 'No data for this shift yet.',
      team_missing: 'No data for team {team} in this shift yet.',
      corrected: 'Corrected after the fact (edited or declined report)',
      corrected_legend: '✎ hour corrected after the fact (edited or declined report)',
      chart: 'Cumulative plan vs cumulative actual',
      history: 'Recent shifts',
      employees: 'Output per employee',
      employee: 'Employee',
      switch_lang: '中文',
      tv_position: '{i} / {n}',
    },
  };

  const STATUSES = ['on_plan', 'behind', 'far_behind', 'no_plan'];
  const DASH = '—';
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const TV_DEFAULT_ROTATE = 20;
  const TV_MIN_ROTATE = 5;
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 30000;

  // The board's root URL (/board/ as served): one level above this script's
  // assets/ folder, so the pages, the API and the links follow one prefix.
  const scriptUrl = document.currentScript && document.currentScript.src;
  const ROOT = scriptUrl ? new URL('../', scriptUrl) : new URL('/board/', location.href);
  const params = new URLSearchParams(location.search);

  function pickLang() {
    const attr = document.documentElement.getAttribute('lang');
    if (attr === 'zh' || attr === 'en') return attr;
    const q = params.get('lang');
    if (q === 'zh' || q === 'en') return q;
    return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  }

  // The shell names the view; when it was not filled (a raw file), the path does.
  function pickView() {
    const view = document.body.dataset.view;
    if (view === 'overview' || view === 'team' || view === 'tv') return view;
    const rest = location.pathname.slice(ROOT.pathname.length);
    if (rest.startsWith('teams/')) return 'team';
    if (rest.startsWith('tv')) return 'tv';
    return 'overview';
  }

  function pickTeam() {
    const team = document.body.dataset.team || '';
    if (team && !team.startsWith('{{')) return team;
    const rest = location.pathname.slice(ROOT.pathname.length);
    return rest.startsWith('teams/') ? decodeURIComponent(rest.slice('teams/'.length)) : '';
  }

  const lang = pickLang();
  const locale = lang === 'zh' ? 'zh-CN' : 'en-GB';
  const view = pickView();
  const pageTeam = view === 'team' ? pickTeam() : '';

  function t(key, vars) {
    const text = (MESSAGES[lang] && MESSAGES[lang][key]) || MESSAGES.en[key] || key;
    return vars ? text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m)) : text;
  }

  // ---- formatting ---------------------------------------------------------

  const numberFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  const percentFormat = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const timeFormats = new Map();

  function isNum(v) {
    return typeof v === 'number' && Number.isFinite(v);
  }
  function fmtNum(v) {
    return isNum(v) ? numberFormat.format(v) : DASH;
  }
  function fmtSigned(v) {
    if (!isNum(v)) return DASH;
    return v > 0 ? '+' + numberFormat.format(v) : numberFormat.format(v);
  }
  function fmtPct(v) {
    return isNum(v) ? percentFormat.format(v) + '%' : DASH;
  }

  // Times are shown in the plant's time zone, whatever the viewing device's is.
  function timeFormat(timeZone, seconds) {
    const key = (timeZone || '') + (seconds ? ':s' : '');
    let format = timeFormats.get(key);
    if (!format) {
      const options = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
      if (seconds) options.second = '2-digit';
      try {
        format = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: timeZone || undefined }, options));
      } catch (e) {
        // An unknown zone name from the configuration: UTC rather than no clock.
        console.warn('board: unknown time zone', timeZone, e);
        format = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: 'UTC' }, options));
      }
      timeFormats.set(key, format);
    }
    return format;
  }
  function fmtTime(iso, timeZone) {
    const ms = typeof iso === 'number' ? iso : Date.parse(iso);
    return Number.isFinite(ms) ? timeFormat(timeZone, false).format(ms) : DASH;
  }

  function statusOf(status) {
    return STATUSES.includes(status) ? status : 'no_plan';
  }

  // Level of an attainment percentage against the plant's thresholds.
  function levelOf(percent, thresholds) {
    if (!isNum(percent)) return 'none';
    const behind = thresholds && isNum(thresholds.behind) ? thresholds.behind : 95;
    const far = thresholds && isNum(thresholds.far_behind) ? thresholds.far_behind : 85;
    if (percent < far) return 'far_behind';
    if (percent < behind) return 'behind';
    return 'on_plan';
  }

  // ---- DOM helpers --------------------------------------------------------

  function el(tag, props, children) {
    const node = document.createElement(tag);
    applyProps(node, props);
    for (const child of children || []) node.append(child);
    return node;
  }
  function svg(tag, props) {
    const node = document.createElementNS(SVG_NS, tag);
    applyProps(node, props);
    return node;
  }
  function applyProps(node, props) {
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (name === 'text') node.textContent = value;
      else if (name === 'testid') node.setAttribute('data-testid', value);
      else if (name === 'class') node.setAttribute('class', value);
      else node.setAttribute(name, String(value));
    }
  }
  // Setters that touch the DOM only on a change, so an unchanged number is
  // never re-laid out (no flicker on a TV).
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }
  function setAttr(node, name, value) {
    const v = String(value);
    if (node.getAttribute(name) !== v) node.setAttribute(name, v);
  }
  function setHidden(node, hidden) {
    if (node.hidden !== hidden) node.hidden = hidden;
  }
  // Replace the classes that start with `prefix` by prefix+value.
  function setModifier(node, prefix, value) {
    const wanted = value ? prefix + value : null;
    for (const c of Array.from(node.classList)) {
      if (c.startsWith(prefix) && c !== wanted) node.classList.remove(c);
    }
    if (wanted && !node.classList.contains(wanted)) node.classList.add(wanted);
  }

  function boardUrl(path) {
    const url = new URL(path, ROOT);
    const l = params.get('lang');
    if (l === 'zh' || l === 'en') url.searchParams.set('lang', l);
    return url.pathname + url.search;
  }
  function teamUrl(team) {
    return boardUrl('teams/' + encodeURIComponent(team));
  }
  function apiUrl(name) {
    return new URL('api/v1/' + name, ROOT).href;
  }

  // ---- the page frame -----------------------------------------------------

  const board = document.getElementById('board') || document.body.appendChild(el('div', { id: 'board' }));
  board.classList.add('board', 'view-' + view);
  board.dataset.lang = lang;

  const frame = (function buildFrame() {
    const title = el('a', { class: 'title', testid: 'board-title', href: boardUrl('./') });
    const back = el('a', { class: 'back', testid: 'back-link', href: boardUrl('./'), text: t('back') });
    back.hidden = view !== 'team';

    const shiftCode = el('b', { testid: 'shift-code' });
    const shiftDate = el('span', { testid: 'shift-date', title: t('shift_date') });
    const currentHour = el('b', { testid: 'current-hour' });
    const shiftInfo = el('div', { class: 'shift', testid: 'shift-info' }, [
      el('span', { class: 'label', text: t('shift') }), ' ', shiftCode, ' ', shiftDate,
      el('span', { class: 'sep', text: ' · ' }),
      el('span', { class: 'label', text: t('current_hour') }), ' ', currentHour,
    ]);
    shiftInfo.hidden = true;

    const tvPosition = el('span', { class: 'tv-position', testid: 'tv-position' });
    tvPosition.hidden = true;
    const clock = el('time', { class: 'clock', testid: 'clock' });
    const conn = el('span', { class: 'conn-lost', testid: 'conn-lost', role: 'status', text: t('conn_lost') });
    conn.hidden = true;

    const other = lang === 'zh' ? 'en' : 'zh';
    const switchUrl = new URL(location.href);
    switchUrl.searchParams.set('lang', other);
    const langSwitch = el('a', {
      class: 'lang-switch', testid: 'lang-switch', href: switchUrl.pathname + switchUrl.search,
      hreflang: other, lang: other, text: t('switch_lang'),
    });
    langSwitch.hidden = view === 'tv';

    const header = el('header', { class: 'topbar' }, [
      el('div', { class: 'brand' }, [back, title]),
      shiftInfo,
      el('div', { class: 'right' }, [conn, tvPosition, clock, langSwitch]),
    ]);

    const progress = el('div', { class: 'tv-progress-fill', testid: 'tv-progress' });
    const progressTrack = el('div', { class: 'tv-progress' }, [progress]);
    progressTrack.hidden = true;

    const stale = el('div', { class: 'banner banner-stale', testid: 'stale-banner', role: 'alert' });
    stale.hidden = true;
    const auth = el('div', { class: 'notice notice-error', testid: 'auth-error', role: 'alert', text: t('auth') });
    auth.hidden = true;
    const loadError = el('div', { class: 'notice notice-warn', testid: 'load-error', role: 'status', text: t('load_error') });
    loadError.hidden = true;
    const loading = el('div', { class: 'notice', testid: 'loading', text: t('loading') });
    const main = el('main', { class: 'content' });

    board.replaceChildren(header, progressTrack, stale, auth, loadError, loading, main);
    return {
      title, shiftInfo, shiftCode, shiftDate, currentHour, clock, conn, tvPosition,
      progressTrack, progress, stale, auth, loadError, loading, main,
    };
  })();

  // The shell's <title> holds the configured board title until a snapshot names one.
  const shellTitle = document.title && !document.title.startsWith('{{') ? document.title : t('board');

  function setTitle(snapshot) {
    const shown = (snapshot && snapshot.title) || shellTitle;
    setText(frame.title, shown);
    const team = view === 'team' ? pageTeam : currentTvTeam();
    const docTitle = team ? team + ' · ' + shown : shown;
    if (document.title !== docTitle) document.title = docTitle;
  }

  function updateShiftHeader(snapshot) {
    const shift = snapshot.shift;
    if (!shift) {
      frame.shiftInfo.hidden = true;
      return;
    }
    setHidden(frame.shiftInfo, false);
    setText(frame.shiftCode, shift.shift_code || DASH);
    setText(frame.shiftDate, shift.shift_date || DASH);
    const hour = (shift.hours || []).find((h) => h.hour === shift.current_hour);
    setText(frame.currentHour, hour ? hour.label || fmtTime(hour.start, shift.time_zone) : DASH);
  }

  // ---- the overview -------------------------------------------------------

  function createOverview() {
    const empty = el('p', { class: 'notice', testid: 'empty', text: t('empty') });
    empty.hidden = true;
    const list = el('ul', { class: 'cards', testid: 'team-list' });
    const root = el('section', { class: 'overview' }, [empty, list]);
    const cards = new Map();

    function createCard(code) {
      const fact = (key, testid) => {
        const value = el('dd', { testid });
        return { node: el('div', { class: 'fact' }, [el('dt', { text: t(key) }), value]), value };
      };
      const parts = {
        team: el('span', { class: 'card-team', testid: 'card-team', text: code }),
        status: el('span', { class: 'badge', testid: 'card-status' }),
        percent: el('span', { class: 'card-percent', testid: 'card-percent' }),
        actual: el('span', { class: 'card-actual', testid: 'card-actual' }),
        planToNow: el('span', { class: 'card-plan', testid: 'card-plan-to-now' }),
        bar: el('div', { class: 'card-bar-fill', testid: 'card-bar' }),
        behindTick: el('div', { class: 'card-bar-tick' }),
        farTick: el('div', { class: 'card-bar-tick' }),
        planShift: fact('plan_shift', 'card-plan-shift'),
        scrap: fact('scrap', 'card-scrap'),
        fpy: fact('fpy', 'card-fpy'),
        newest: fact('newest', 'card-newest'),
      };
      const link = el('a', { class: 'card-link', testid: 'card-link', href: teamUrl(code) }, [
        el('div', { class: 'card-head' }, [parts.team, parts.status]),
        el('div', { class: 'card-main' }, [
          parts.percent,
          el('span', { class: 'card-qty' }, [
            parts.actual, el('span', { class: 'slash', text: ' / ' }), parts.planToNow,
          ]),
        ]),
        el('div', { class: 'card-bar', 'aria-hidden': 'true' }, [parts.bar, parts.farTick, parts.behindTick]),
        el('dl', { class: 'card-facts' }, [parts.planShift.node, parts.scrap.node, parts.fpy.node, parts.newest.node]),
      ]);
      parts.node = el('li', { class: 'card', testid: 'team-' + code }, [link]);
      parts.actual.setAttribute('title', t('actual'));
      parts.planToNow.setAttribute('title', t('plan_to_now'));
      return parts;
    }

    function updateCard(card, team, snapshot) {
      const status = statusOf(team.status);
      const tz = snapshot.shift && snapshot.shift.time_zone;
      setModifier(card.node, 'status-', status);
      setAttr(card.node, 'data-status', status);
      setText(card.status, t('status_' + status));
      setText(card.percent, fmtPct(team.percent));
      setText(card.actual, fmtNum(team.actual));
      setText(card.planToNow, fmtNum(team.plan_to_now));
      const width = isNum(team.percent) ? Math.max(0, Math.min(100, team.percent)) : 0;
      card.bar.style.width = width + '%';
      const thresholds = snapshot.thresholds || {};
      card.behindTick.style.left = (isNum(thresholds.behind) ? thresholds.behind : 95) + '%';
      card.farTick.style.left = (isNum(thresholds.far_behind) ? thresholds.far_behind : 85) + '%';
      setText(card.planShift.value, fmtNum(team.plan_shift));
      setText(card.scrap.value, fmtNum(team.scrap));
      setText(card.fpy.value, fmtPct(team.fpy));
      setText(card.newest.value, team.newest_data_at ? fmtTime(team.newest_data_at, tz) : DASH);
    }

    function update(snapshot) {
      const teams = Array.isArray(snapshot.teams) ? snapshot.teams : [];
      setHidden(empty, teams.length > 0);
      const seen = new Set();
      for (const team of teams) {
        if (!team || typeof team.team !== 'string' || seen.has(team.team)) continue;
        const index = seen.size;
        seen.add(team.team);
        let card = cards.get(team.team);
        if (!card) {
          card = createCard(team.team);
          cards.set(team.team, card);
        }
        updateCard(card, team, snapshot);
        // Keep the snapshot's order, moving a node only when it is out of place.
        if (list.children[index] !== card.node) list.insertBefore(card.node, list.children[index] || null);
      }
      for (const [code, card] of cards) {
        if (!seen.has(code)) {
          card.node.remove();
          cards.delete(code);
        }
      }
      root.classList.toggle('many', seen.size > 6);
      root.style.setProperty('--cards', String(Math.max(1, seen.size)));
    }

    return { root, update };
  }

  // ---- the team board -----------------------------------------------------

  const HOUR_COLUMNS = [
    { key: 'label', head: 'hour', cls: 'col-label' },
    { key: 'plan', head: 'plan', cls: 'col-num col-plan' },
    { key: 'actual', head: 'actual', cls: 'col-num col-actual' },
    { key: 'cum-plan', head: 'cum_plan', cls: 'col-num col-cum' },
    { key: 'cum-actual', head: 'cum_actual', cls: 'col-num col-cum' },
    { key: 'variance', head: 'variance', cls: 'col-num col-var' },
    { key: 'scrap', head: 'scrap', cls: 'col-num col-scrap' },
    { key: 'fpy', head: 'fpy', cls: 'col-num col-fpy' },
  ];

  function createTeamBoard() {
    const kpi = (key, testid, extra) => {
      const value = el('span', { class: 'kpi-value', testid });
      return { node: el('div', { class: 'kpi ' + (extra || '') }, [el('span', { class: 'kpi-label', text: t(key) }), value]), value };
    };
    const missing = el('p', { class: 'notice', testid: 'team-missing' });
    missing.hidden = true;
    const name = el('h1', { class: 'team-name', testid: 'team-name' });
    const status = el('span', { class: 'badge', testid: 'total-status' });
    const kpis = {
      planShift: kpi('plan_shift', 'plan-shift'),
      planToNow: kpi('plan_to_now', 'plan-to-now'),
      actual: kpi('actual', 'total-actual', 'kpi-main'),
      percent: kpi('attainment', 'total-percent', 'kpi-main'),
      scrap: kpi('scrap', 'total-scrap'),
      fpy: kpi('fpy', 'total-fpy'),
      newest: kpi('newest', 'team-newest', 'kpi-newest'),
    };

    const tbody = el('tbody');
    const table = el('table', { class: 'hours', testid: 'hour-table' }, [
      el('thead', {}, [el('tr', {}, HOUR_COLUMNS.map((c) => el('th', { class: c.cls, scope: 'col', text: t(c.head) })))]),
      tbody,
    ]);
    const correctedLegend = el('p', { class: 'legend', testid: 'corrected-legend', text: t('corrected_legend') });
    correctedLegend.hidden = true;
    const chart = createChart();

    const historyBody = el('tbody');
    const historyTable = el('table', { class: 'history-table', testid: 'history-table' }, [
      el('thead', {}, [el('tr', {}, [
        el('th', { scope: 'col', text: t('shift') }),
        el('th', { class: 'col-num', scope: 'col', text: t('plan') }),
        el('th', { class: 'col-num', scope: 'col', text: t('actual') }),
        el('th', { class: 'col-num', scope: 'col', text: t('attainment') }),
        el('th', { class: 'col-num', scope: 'col', text: t('scrap') }),
        el('th', { class: 'col-num', scope: 'col', text: t('fpy') }),
      ])]),
      historyBody,
    ]);
    const history = el('section', { class: 'history', testid: 'history' }, [el('h2', { text: t('history') }), historyTable]);

    const employeesBody = el('tbody');
    const employees = el('section', { class: 'employees', testid: 'employees' }, [
      el('h2', { text: t('employees') }),
      el('table', { class: 'employees-table' }, [
        el('thead', {}, [el('tr', {}, [
          el('th', { scope: 'col', text: t('employee') }),
          el('th', { class: 'col-num', scope: 'col', text: t('actual') }),
        ])]),
        employeesBody,
      ]),
    ]);
    employees.hidden = true;

    const body = el('div', { class: 'team-body' }, [
      el('div', { class: 'team-head' }, [name, status]),
      el('div', { class: 'kpis' }, Object.values(kpis).map((k) => k.node)),
      el('div', { class: 'team-grid' }, [
        el('div', { class: 'table-wrap' }, [el('div', { class: 'table-box' }, [table]), correctedLegend]),
        chart.root,
      ]),
      el('div', { class: 'team-extra' }, [history, employees]),
    ]);
    const root = el('section', { class: 'team-board', testid: 'team-board' }, [missing, body]);

    let rows = new Map();
    let shapeKey = '';

    function buildRows(hours) {
      rows = new Map();
      tbody.replaceChildren();
      for (const h of hours) {
        const n = h.hour;
        const cells = {};
        const tr = el('tr', { testid: 'hour-row-h' + n });
        for (const c of HOUR_COLUMNS) {
          // The label's test id is on its text, beside the corrected marker.
          const cell = el(c.key === 'label' ? 'th' : 'td', { class: c.cls, testid: c.key === 'label' ? null : c.key + '-h' + n });
          if (c.key === 'label') cell.setAttribute('scope', 'row');
          cells[c.key] = cell;
          tr.append(cell);
        }
        const labelText = el('span', { class: 'label-text', testid: 'label-h' + n });
        const mark = el('span', { class: 'corrected-mark', text: '✎', title: t('corrected'), 'aria-label': t('corrected') });
        mark.hidden = true;
        cells.label.append(labelText, mark);
        rows.set(n, { tr, cells, labelText, mark });
        tbody.append(tr);
      }
      table.style.setProperty('--rows', String(Math.max(1, hours.length)));
    }

    function update(snapshot, team) {
      if (!team) {
        setText(missing, t('team_missing', { team: view === 'team' ? pageTeam : currentTvTeam() || '' }));
        setHidden(missing, false);
        setHidden(body, true);
        setAttr(root, 'data-team', view === 'team' ? pageTeam : '');
        return;
      }
      setHidden(missing, true);
      setHidden(body, false);
      const shift = snapshot.shift || {};
      const tz = shift.time_zone;
      const teamStatus = statusOf(team.status);
      setAttr(root, 'data-team', team.team);
      setAttr(root, 'data-status', teamStatus);
      setModifier(root, 'status-', teamStatus);
      setText(name, team.team);
      setText(status, t('status_' + teamStatus));
      setText(kpis.planShift.value, fmtNum(team.plan_shift));
      setText(kpis.planToNow.value, fmtNum(team.plan_to_now));
      setText(kpis.actual.value, fmtNum(team.actual));
      setText(kpis.percent.value, fmtPct(team.percent));
      setText(kpis.scrap.value, fmtNum(team.scrap));
      setText(kpis.fpy.value, fmtPct(team.fpy));
      setText(kpis.newest.value, team.newest_data_at ? fmtTime(team.newest_data_at, tz) : DASH);

      const shiftHours = Array.isArray(shift.hours) ? shift.hours : [];
      const teamHours = new Map((Array.isArray(team.hours) ? team.hours : []).map((h) => [h.hour, h]));
      // The shift's hours make the rows; a team hour the shift does not list is ignored.
      const hours = shiftHours.length ? shiftHours : Array.from(teamHours.values());
      const key = hours.map((h) => h.hour + '@' + (h.label || '')).join(',');
      if (key !== shapeKey) {
        buildRows(hours);
        shapeKey = key;
      }
      let anyCorrected = false;
      for (const h of hours) {
        const row = rows.get(h.hour);
        const data = teamHours.get(h.hour) || {};
        const state = h.hour === shift.current_hour ? 'current' : isNum(shift.current_hour) && h.hour > shift.current_hour ? 'future' : 'past';
        setAttr(row.tr, 'data-state', state);
        setModifier(row.tr, 'row-', state);
        if (state === 'current') setAttr(row.tr, 'aria-current', 'true');
        else row.tr.removeAttribute('aria-current');
        setText(row.labelText, h.label || fmtTime(h.start, tz));
        setText(row.cells.plan, fmtNum(data.plan));
        setText(row.cells.actual, fmtNum(data.actual));
        setText(row.cells['cum-plan'], fmtNum(data.cum_plan));
        setText(row.cells['cum-actual'], fmtNum(data.cum_actual));
        setText(row.cells.variance, fmtSigned(data.variance));
        setModifier(row.cells.variance, 'var-', isNum(data.variance) ? (data.variance < 0 ? 'neg' : 'pos') : null);
        setText(row.cells.scrap, fmtNum(data.scrap));
        setText(row.cells.fpy, fmtPct(data.fpy));
        const corrected = data.corrected === true;
        anyCorrected = anyCorrected || corrected;
        setHidden(row.mark, !corrected);
        // Only a shown marker carries the test id, so a query finds corrected hours only.
        if (corrected) setAttr(row.mark, 'data-testid', 'corrected-h' + h.hour);
        else row.mark.removeAttribute('data-testid');
        row.tr.classList.toggle('corrected', corrected);
      }
      setHidden(correctedLegend, !anyCorrected);
      chart.update(snapshot, hours, teamHours, team);

      const hist = Array.isArray(team.history) ? team.history : [];
      setHidden(history, hist.length === 0);
      syncRows(historyBody, hist.length, (i) => {
        const tr = el('tr', { testid: 'history-row-' + i });
        for (let c = 0; c < 6; c++) tr.append(el(c === 0 ? 'th' : 'td', { class: c === 0 ? '' : 'col-num' }));
        return tr;
      });
      hist.forEach((s, i) => {
        const cells = historyBody.children[i].children;
        setText(cells[0], (s.shift_date || DASH) + ' ' + (s.shift_code || ''));
        setText(cells[1], fmtNum(s.plan));
        setText(cells[2], fmtNum(s.actual));
        const pct = isNum(s.plan) && s.plan > 0 && isNum(s.actual) ? (s.actual / s.plan) * 100 : null;
        setText(cells[3], fmtPct(pct));
        setModifier(cells[3], 'lvl-', pct === null ? null : levelOf(pct, snapshot.thresholds));
        setText(cells[4], fmtNum(s.scrap));
        setText(cells[5], fmtPct(s.fpy));
      });

      // Employees are shown only where the plant decided so (show_employees).
      const people = snapshot.show_employees === true && Array.isArray(team.employees) ? team.employees : [];
      setHidden(employees, people.length === 0);
      syncRows(employeesBody, people.length, (i) =>
        el('tr', { testid: 'employee-row-' + i }, [el('th', { scope: 'row' }), el('td', { class: 'col-num' })]));
      people.forEach((p, i) => {
        const cells = employeesBody.children[i].children;
        setText(cells[0], String(p.employee == null ? DASH : p.employee));
        setText(cells[1], fmtNum(p.actual));
      });
    }

    return { root, update };
  }

  // Make tbody hold exactly n rows, keeping the ones it has.
  function syncRows(tbody, n, makeRow) {
    while (tbody.children.length > n) tbody.lastElementChild.remove();
    while (tbody.children.length < n) tbody.append(makeRow(tbody.children.length));
  }

  // ---- the cumulative chart -------------------------------------------------

  function createChart() {
    const W = 640;
    const H = 360;
    const M = { left: 64, right: 16, top: 16, bottom: 44 };
    const plotW = W - M.left - M.right;
    const plotH = H - M.top - M.bottom;

    const root = el('figure', { class: 'chart-wrap' });
    const caption = el('figcaption', { class: 'chart-caption' }, [
      el('span', { class: 'swatch swatch-plan', 'aria-hidden': 'true' }), t('cum_plan'), '  ',
      el('span', { class: 'swatch swatch-actual', 'aria-hidden': 'true' }), t('cum_actual'),
    ]);
    const chart = svg('svg', {
      class: 'chart', testid: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
      'aria-label': t('chart'), preserveAspectRatio: 'xMidYMid meet',
    });
    const title = svg('title');
    title.textContent = t('chart');
    const grid = svg('g', { class: 'grid' });
    const bars = svg('g', { class: 'bars' });
    const xLabels = svg('g', { class: 'x-labels' });
    const line = svg('polyline', { class: 'plan-line', testid: 'chart-plan-line', fill: 'none' });
    const dots = svg('g', { class: 'plan-dots' });
    chart.append(title, grid, bars, line, dots, xLabels);
    root.append(chart, caption);

    const GRID_STEPS = 4;
    const gridLines = [];
    for (let i = 0; i <= GRID_STEPS; i++) {
      const y = M.top + plotH - (plotH * i) / GRID_STEPS;
      const lineNode = svg('line', { x1: M.left, x2: W - M.right, y1: y, y2: y, class: i === 0 ? 'axis' : 'gridline' });
      const label = svg('text', { x: M.left - 8, y: y + 5, 'text-anchor': 'end', class: 'y-label' });
      grid.append(lineNode, label);
      gridLines.push(label);
    }

    let items = [];
    let shapeKey = '';

    function build(hours) {
      bars.replaceChildren();
      dots.replaceChildren();
      xLabels.replaceChildren();
      const band = plotW / Math.max(1, hours.length);
      const every = hours.length > 12 ? Math.ceil(hours.length / 12) : 1;
      items = hours.map((h, i) => {
        const cx = M.left + band * (i + 0.5);
        const bar = svg('rect', { x: (cx - band * 0.3).toFixed(1), width: (band * 0.6).toFixed(1), y: M.top + plotH, height: 0, testid: 'chart-actual-h' + h.hour });
        const barTitle = svg('title');
        bar.append(barTitle);
        const dot = svg('circle', { cx: cx.toFixed(1), cy: M.top + plotH, r: 4 });
        const label = svg('text', { x: cx.toFixed(1), y: H - M.bottom + 26, 'text-anchor': 'middle', class: 'x-label' });
        if (i % every !== 0) label.setAttribute('visibility', 'hidden');
        bars.append(bar);
        dots.append(dot);
        xLabels.append(label);
        return { hour: h.hour, cx, bar, barTitle, dot, label };
      });
    }

    // A round axis maximum (a few steps per power of ten), so the grid lines read well.
    function niceMax(v) {
      if (!(v > 0)) return 10;
      const p = Math.pow(10, Math.floor(Math.log10(v)));
      for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
      return 10 * p;
    }

    function update(snapshot, hours, teamHours, team) {
      const key = hours.map((h) => h.hour).join(',');
      if (key !== shapeKey) {
        build(hours);
        shapeKey = key;
      }
      const tz = snapshot.shift && snapshot.shift.time_zone;
      let max = 0;
      for (const h of hours) {
        const d = teamHours.get(h.hour) || {};
        if (isNum(d.cum_plan)) max = Math.max(max, d.cum_plan);
        if (isNum(d.cum_actual)) max = Math.max(max, d.cum_actual);
      }
      max = niceMax(max * 1.05);
      const yOf = (v) => M.top + plotH - (plotH * v) / max;
      gridLines.forEach((label, i) => setText(label, fmtNum((max * i) / GRID_STEPS)));
      const points = [];
      items.forEach((item, i) => {
        const h = hours[i];
        const d = teamHours.get(h.hour) || {};
        setText(item.label, h.label || fmtTime(h.start, tz));
        if (isNum(d.cum_actual)) {
          const y = yOf(Math.max(0, d.cum_actual));
          setAttr(item.bar, 'y', y.toFixed(1));
          setAttr(item.bar, 'height', (M.top + plotH - y).toFixed(1));
        } else {
          setAttr(item.bar, 'y', M.top + plotH);
          setAttr(item.bar, 'height', 0);
        }
        const current = snapshot.shift && h.hour === snapshot.shift.current_hour;
        // The hour under way is measured against the plan to now, as the team's status is.
        const planned = current && isNum(team.plan_to_now) ? team.plan_to_now : d.cum_plan;
        const pct = isNum(d.cum_actual) && isNum(planned) && planned > 0 ? (d.cum_actual / planned) * 100 : null;
        const level = pct === null ? (isNum(d.cum_actual) ? 'no_plan' : 'none') : levelOf(pct, snapshot.thresholds);
        let cls = 'chart-bar lvl-' + level;
        if (current) cls += ' current';
        setAttr(item.bar, 'class', cls);
        setText(item.barTitle, `${h.label || ''} ${t('cum_actual')} ${fmtNum(d.cum_actual)} / ${t('cum_plan')} ${fmtNum(d.cum_plan)}`);
        if (isNum(d.cum_plan)) {
          const y = yOf(d.cum_plan).toFixed(1);
          points.push(item.cx.toFixed(1) + ',' + y);
          setAttr(item.dot, 'cy', y);
          setAttr(item.dot, 'visibility', 'visible');
        } else {
          setAttr(item.dot, 'visibility', 'hidden');
        }
      });
      setAttr(line, 'points', points.join(' '));
    }

    return { root, update };
  }

  // ---- views ------------------------------------------------------------------

  const tvParam = params.get('teams');
  const tvOverview = view === 'tv' && tvParam !== null && tvParam.trim() === '';
  const tvList = view === 'tv' && tvParam ? tvParam.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const rotateParam = Number.parseFloat(params.get('rotate'));
  const tvRotateSeconds = Number.isFinite(rotateParam) ? Math.max(TV_MIN_ROTATE, rotateParam) : TV_DEFAULT_ROTATE;
  const tv = { team: null, timer: null };

  const content = view === 'overview' || tvOverview ? createOverview() : createTeamBoard();
  if (tvOverview) board.classList.add('tv-overview');

  function tvTeams(snapshot) {
    const codes = (Array.isArray(snapshot.teams) ? snapshot.teams : []).map((x) => x && x.team).filter((c) => typeof c === 'string');
    return tvList ? tvList.filter((c) => codes.includes(c)) : codes;
  }
  function currentTvTeam() {
    return view === 'tv' && !tvOverview ? tv.team : null;
  }

  function restartProgress() {
    const fill = frame.progress;
    fill.classList.remove('running');
    fill.style.animationDuration = tvRotateSeconds + 's';
    void fill.offsetWidth; // a reflow, so that the animation starts again from zero
    fill.classList.add('running');
  }

  function rotateTv() {
    tv.timer = null;
    const snapshot = state.snapshot;
    if (!snapshot) return;
    const codes = tvTeams(snapshot);
    if (codes.length > 1) {
      const at = codes.indexOf(tv.team);
      tv.team = codes[(at + 1) % codes.length];
    }
    render();
  }

  function updateTvRotation(snapshot) {
    const codes = tvTeams(snapshot);
    if (!codes.includes(tv.team)) tv.team = codes.length ? codes[0] : null;
    const rotating = codes.length > 1;
    setHidden(frame.tvPosition, codes.length === 0);
    setText(frame.tvPosition, t('tv_position', { i: codes.indexOf(tv.team) + 1, n: codes.length }));
    setHidden(frame.progressTrack, !rotating);
    if (rotating && tv.timer === null) {
      tv.timer = setTimeout(rotateTv, tvRotateSeconds * 1000);
      restartProgress();
    } else if (!rotating && tv.timer !== null) {
      clearTimeout(tv.timer);
      tv.timer = null;
    }
  }

  // ---- snapshot state, staleness, clock --------------------------------------

  const state = {
    snapshot: null,
    receivedAt: 0, // performance.now() when the snapshot on screen arrived
    ageAtGeneration: null, // ms between newest_data_at and generated_at
  };

  // Staleness: the server's flag, and besides it the age of the newest data
  // counted on from the moment the snapshot arrived with this page's own
  // monotonic clock, so that a board whose event stream went quiet still turns
  // stale and a TV with a wrong wall clock does not raise a false alarm.
  function isStale(snapshot) {
    if (snapshot.stale === true) return true;
    const after = snapshot.stale_after_seconds;
    if (!isNum(after) || after <= 0 || state.ageAtGeneration === null) return false;
    return state.ageAtGeneration + (performance.now() - state.receivedAt) > after * 1000;
  }

  function updateStale() {
    const snapshot = state.snapshot;
    if (!snapshot) return;
    const stale = isStale(snapshot);
    setHidden(frame.stale, !stale);
    board.classList.toggle('is-stale', stale);
    if (stale) {
      const tz = snapshot.shift && snapshot.shift.time_zone;
      setText(frame.stale, snapshot.newest_data_at ? t('stale', { time: fmtTime(snapshot.newest_data_at, tz) }) : t('stale_never'));
    }
  }

  function tickClock() {
    const tz = state.snapshot && state.snapshot.shift && state.snapshot.shift.time_zone;
    const now = Date.now();
    setText(frame.clock, timeFormat(tz, true).format(now));
    setAttr(frame.clock, 'datetime', new Date(now).toISOString());
    updateStale();
  }

  function render() {
    const snapshot = state.snapshot;
    if (!snapshot) return;
    setTitle(snapshot);
    updateShiftHeader(snapshot);
    if (view === 'overview' || tvOverview) {
      content.update(snapshot);
    } else {
      if (view === 'tv') updateTvRotation(snapshot);
      const code = view === 'team' ? pageTeam : tv.team;
      const teams = Array.isArray(snapshot.teams) ? snapshot.teams : [];
      if (view === 'tv' && !code) {
        setText(frame.loading, t('empty'));
        setHidden(frame.loading, false);
        setHidden(content.root, true);
      } else {
        setHidden(frame.loading, true);
        setHidden(content.root, false);
        content.update(snapshot, teams.find((x) => x && x.team === code) || null);
      }
    }
    setAttr(board, 'data-sequence', isNum(snapshot.sequence) ? snapshot.sequence : '');
    updateStale();
  }

  function applySnapshot(snapshot) {
    if (!snapshot || typeof snapshot !== 'object') return;
    state.snapshot = snapshot;
    state.receivedAt = performance.now();
    const newest = Date.parse(snapshot.newest_data_at);
    const generated = Date.parse(snapshot.generated_at);
    state.ageAtGeneration = Number.isFinite(newest) && Number.isFinite(generated) ? Math.max(0, generated - newest) : null;
    if (!content.root.isConnected) frame.main.append(content.root);
    setHidden(frame.loading, true);
    setHidden(frame.loadError, true);
    setHidden(frame.auth, true);
    render();
    tickClock();
  }

  // ---- talking to the server ----------------------------------------------------

  let source = null;
  let retryMs = RETRY_MIN_MS;
  let retryTimer = null;

  function setConnection(up) {
    setHidden(frame.conn, up);
    setAttr(board, 'data-connection', up ? 'up' : 'down');
  }

  // No token, or a wrong one: say so and show no numbers at all.
  function showAuthError() {
    if (source) {
      source.close();
      source = null;
    }
    state.snapshot = null;
    content.root.remove();
    setHidden(frame.loading, true);
    setHidden(frame.loadError, true);
    setHidden(frame.stale, true);
    setHidden(frame.conn, true);
    setHidden(frame.shiftInfo, true);
    setHidden(frame.tvPosition, true);
    setHidden(frame.progressTrack, true);
    setHidden(frame.auth, false);
    board.classList.add('is-unauthorized');
  }

  async function loadSnapshot() {
    let response;
    try {
      response = await fetch(apiUrl('snapshot'), { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (e) {
      return 'down';
    }
    if (response.status === 401 || response.status === 403) return 'unauthorized';
    if (!response.ok) return 'down';
    try {
      applySnapshot(await response.json());
    } catch (e) {
      console.warn('board: bad snapshot', e);
      return 'down';
    }
    return 'ok';
  }

  function scheduleRetry() {
    if (retryTimer !== null) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      start();
    }, retryMs);
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  }

  function openEvents() {
    const es = new EventSource(apiUrl('events'));
    source = es;
    es.addEventListener('open', () => {
      retryMs = RETRY_MIN_MS;
      setConnection(true);
    });
    es.addEventListener('snapshot', (event) => {
      let snapshot;
      try {
        snapshot = JSON.parse(event.data);
      } catch (e) {
        console.warn('board: bad snapshot event', e);
        return;
      }
      setConnection(true);
      applySnapshot(snapshot);
    });
    es.addEventListener('error', () => {
      if (source !== es) return;
      setConnection(false);
      // CONNECTING: the browser reconnects by itself (with Last-Event-ID).
      // CLOSED: the server answered with an error status (a 401 after the
      // token was withdrawn, a proxy's 502): find out why and retry ourselves.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        source = null;
        scheduleRetry();
      }
    });
  }

  async function start() {
    const result = await loadSnapshot();
    if (result === 'unauthorized') {
      showAuthError();
      return;
    }
    if (result === 'down') {
      if (state.snapshot) setConnection(false);
      else {
        setHidden(frame.loading, true);
        setHidden(frame.loadError, false);
      }
      scheduleRetry();
      return;
    }
    openEvents();
  }

  setTitle(null);
  tickClock();
  setInterval(tickClock, 1000);
  start();
})();
