// playcore H5 end-to-end test: the real page in Debian's headless Chromium, driven by
// playwright-core (which downloads no browser), against a real `playcore serve --demo`.
//
// Run through e2e/run.sh, which starts the server and sets PLAYCORE_BASE (the server's
// http://127.0.0.1:PORT) and E2E_SCREENSHOT_DIR (where the screenshots go). The phone
// viewport is 390×844. Other clients (a competing buyer, a friend joining a group) are
// plain HTTP requests from this test, never through the page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.PLAYCORE_BASE;
const SCREENSHOT_DIR = process.env.E2E_SCREENSHOT_DIR || join(process.cwd(), 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PHONE = { width: 390, height: 844 };
/** How long the page may take to show a change made elsewhere (polling is every 2 s). */
const LIVE_TIMEOUT_MS = 8000;
const OPERATOR = 'dev-operator';
const APPROVER = 'dev-approver';

assert.ok(BASE && BASE.startsWith('http://127.0.0.1:'), 'PLAYCORE_BASE must be a loopback URL');

let browser;
/** Whether the server serves the activity websocket (then the page must use it). */
let websocketServed;

// ---------------------------------------------------------------------------- HTTP client

async function call(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const envelope = await response.json().catch(() => null);
  return { status: response.status, envelope, data: envelope && envelope.data };
}

async function ok(method, path, body, token) {
  const answer = await call(method, path, body, token);
  assert.ok(answer.envelope && answer.envelope.success, `${method} ${path}: ${JSON.stringify(answer)}`);
  return answer.data;
}

const requestId = () => 'e2e-' + Math.random().toString(36).slice(2) + Date.now().toString(36);

function grab(activityId, userId) {
  return ok('POST', `/api/v1/activities/${activityId}/orders`, { userId, requestId: requestId() });
}

function pay(orderId, userId) {
  return ok('POST', `/api/v1/orders/${orderId}/pay`, { userId });
}

async function demoActivity(templateCode) {
  const list = await ok('GET', '/api/v1/activities');
  const found = list.find((activity) => activity.templateCode === templateCode);
  assert.ok(found, `the demo has a ${templateCode} online: ${JSON.stringify(list)}`);
  return found;
}

/** Creates a flash sale through the admin flow (create, submit, approve, publish). */
async function publishFlashSale({ title, stock, startInSeconds, endInSeconds }) {
  const now = Date.now();
  const created = await ok(
    'POST',
    '/admin/v1/activities',
    {
      templateCode: 'FLASH_SALE',
      title,
      storeId: 'store-e2e',
      serviceId: 'svc-e2e',
      price: 1990,
      stock,
      perUserLimit: 1,
      startAt: new Date(now + startInSeconds * 1000).toISOString(),
      endAt: new Date(now + endInSeconds * 1000).toISOString(),
      unitName: '次',
    },
    OPERATOR,
  );
  for (const [step, token] of [['submit', OPERATOR], ['approve', APPROVER], ['publish', OPERATOR]]) {
    await ok('POST', `/admin/v1/activities/${created.id}/${step}`, {}, token);
  }
  return created.id;
}

async function waitForStatus(activityId, wanted) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const activity = await ok('GET', `/api/v1/activities/${activityId}`);
    if (wanted.includes(activity.status)) return activity;
    assert.ok(Date.now() < deadline, `activity ${activityId} never reached ${wanted}: ${activity.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------------------- browser

before(async () => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // launch() starts Chromium on a fresh temporary --user-data-dir of its own and removes
  // it on close; each test then gets a new context (its own localStorage: a new phone).
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const probe = await call('GET', '/ws/activities/1');
  websocketServed = !(probe.status === 404 && /no route/.test(probe.envelope?.error?.message ?? ''));
});

/** Contexts being closed after their page closed: awaited before the browser closes, so no
 * close is still in flight (and rejects) when the browser goes away. */
const contextCloses = [];

after(async () => {
  await Promise.allSettled(contextCloses);
  if (browser) await browser.close();
});

/** A page on a new phone (fresh storage), with page errors and console errors collected. */
async function openPage(path) {
  const context = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push('page error: ' + error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/WebSocket|ws:\/\/|Failed to load resource/.test(message.text())) {
      problems.push('console error: ' + message.text());
    }
  });
  page.on('close', () => contextCloses.push(context.close().catch(() => {})));
  if (path) await page.goto(BASE + path);
  return { page, problems };
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(SCREENSHOT_DIR, name + '.png'), animations: 'disabled' });
}

const text = (page, selector) => page.locator(selector).textContent();

async function waitForText(page, selector, expected, timeout = LIVE_TIMEOUT_MS) {
  await page.waitForFunction(
    ([css, wanted]) => document.querySelector(css)?.textContent?.includes(wanted),
    [selector, expected],
    { timeout },
  );
}

async function buyButton(page) {
  return page.evaluate(() => {
    const button = document.getElementById('buy');
    return { text: button.textContent, disabled: button.disabled };
  });
}

/** The page's live mode must be the websocket once the server serves it. */
async function assertLiveMode(page, context) {
  const expected = websocketServed ? 'websocket' : 'polling';
  await page.waitForFunction((mode) => document.getElementById('live').dataset.mode === mode, expected, {
    timeout: LIVE_TIMEOUT_MS,
  });
  context.diagnostic(`live updates by ${expected}`);
}

// ---------------------------------------------------------------------------- tests

test('the demo flash sale: buy, pay, see the paid state, and stock bought elsewhere', async (context) => {
  const sale = await demoActivity('FLASH_SALE');
  const buyer = 'e2e-buyer';
  const { page, problems } = await openPage(`/h5/activities/${sale.id}?uid=${buyer}&c_id=wechat&u_id=e2e-friend`);

  await waitForText(page, '#buy', '立即抢购');
  assert.equal(await text(page, '#title'), sale.title);
  assert.equal(await text(page, '#price'), '¥' + (sale.price / 100).toFixed(2));
  assert.equal(await text(page, '#countdown-label'), '距结束');
  await assertLiveMode(page, context);
  await screenshot(page, '01-flash-sale');

  // Another client buys: the page's stock bar moves without a reload.
  const takenBefore = Number(await text(page, '#stock-taken'));
  const barBefore = Number(await page.getAttribute('#stock-bar', 'aria-valuenow'));
  for (let index = 0; index < 10; index += 1) await grab(sale.id, `e2e-other-${index}`);
  await waitForText(page, '#stock-taken', String(takenBefore + 10));
  const barAfter = Number(await page.getAttribute('#stock-bar', 'aria-valuenow'));
  assert.ok(barAfter > barBefore, `the bar moved: ${barBefore}% -> ${barAfter}%`);
  await screenshot(page, '02-stock-moved-by-another-client');

  // Buy: the button is disabled at once, and a second click in the same task is ignored.
  const clicked = await page.evaluate(() => {
    const button = document.getElementById('buy');
    button.click();
    const disabledAtOnce = button.disabled;
    button.click();
    return disabledAtOnce;
  });
  assert.equal(clicked, true, 'the buy button is disabled as soon as it is clicked');
  await page.waitForSelector('#order[data-status="PENDING_PAY"]');
  await waitForText(page, '#order-deadline', '内完成支付');
  await waitForText(page, '#stock-taken', String(takenBefore + 11));
  await screenshot(page, '03-order-pending-pay');

  const orderId = await text(page, '#order-id');
  const order = await ok('GET', `/api/v1/orders/${orderId}`);
  assert.equal(order.userId, buyer);
  assert.equal(order.channelId, 'wechat', 'c_id is sent as channelId');
  assert.equal(order.referrerId, 'e2e-friend', 'u_id is sent as referrerId');
  const orders = await ok('GET', `/admin/v1/activities/${sale.id}/orders?limit=1000`, undefined, OPERATOR);
  const mine = orders.orders.filter((each) => each.userId === buyer);
  assert.equal(mine.length, 1, 'one click, one order (no double submit)');

  // Pay (mock): the paid state.
  await page.click('#pay');
  await page.waitForSelector('#order[data-status="PAID"]');
  assert.equal((await text(page, '#order-paid')).trim(), '✓ 支付成功');
  assert.equal(await page.isVisible('#pay'), false);
  assert.equal((await ok('GET', `/api/v1/orders/${orderId}`)).status, 'PAID');
  await screenshot(page, '04-paid');

  // The per-user limit is 2: the second order goes through, the third gets a clear message.
  await page.click('#buy');
  await page.waitForFunction((first) => document.getElementById('order-id').textContent !== first, orderId);
  await page.waitForFunction(() => !document.getElementById('buy').disabled);
  await page.click('#buy');
  await page.waitForSelector('#message[data-code="LIMIT_EXCEEDED"]');
  assert.equal(await text(page, '#message'), '您已达到每人限购数量');
  await screenshot(page, '05-limit-exceeded');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the button says 已抢光 once another client takes the last unit', async () => {
  const id = await publishFlashSale({ title: '限量 1 份 测试秒杀', stock: 1, startInSeconds: -60, endInSeconds: 3600 });
  await waitForStatus(id, ['ONLINE']);
  const { page, problems } = await openPage(`/h5/activities/${id}?uid=e2e-late`);
  await waitForText(page, '#buy', '立即抢购');

  await grab(id, 'e2e-early-bird');

  await waitForText(page, '#buy', '已抢光');
  assert.deepEqual(await buyButton(page), { text: '已抢光', disabled: true });
  assert.equal(await text(page, '#stock-available'), '0');
  await screenshot(page, '06-sold-out');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the button says 未开始 before the start and 已结束 after the end', async () => {
  const later = await publishFlashSale({ title: '一小时后开抢 测试', stock: 5, startInSeconds: 3600, endInSeconds: 7200 });
  const soon = await publishFlashSale({ title: '即将结束 测试', stock: 5, startInSeconds: -60, endInSeconds: 5 });
  await waitForStatus(later, ['NOT_STARTED']);

  const { page, problems } = await openPage(`/h5/activities/${later}?uid=e2e-early`);
  await waitForText(page, '#buy', '未开始');
  assert.deepEqual(await buyButton(page), { text: '未开始', disabled: true });
  assert.equal(await text(page, '#countdown-label'), '距开始');
  await screenshot(page, '07-not-started');

  await page.goto(`${BASE}/h5/activities/${soon}?uid=e2e-early`);
  await waitForText(page, '#buy', '已结束', 15000);
  assert.deepEqual(await buyButton(page), { text: '已结束', disabled: true });
  await waitForStatus(soon, ['ENDED']);
  await screenshot(page, '08-ended');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the page falls back to polling when the websocket cannot connect', async () => {
  const sale = await demoActivity('FLASH_SALE');
  const { page } = await openPage(null);
  await page.routeWebSocket(/\/ws\//, (socket) => socket.close());
  await page.goto(`${BASE}/h5/activities/${sale.id}?uid=e2e-poller`);
  await page.waitForSelector('#live[data-mode="polling"]');
  const takenBefore = Number(await text(page, '#stock-taken'));
  await grab(sale.id, 'e2e-poll-witness');
  await waitForText(page, '#stock-taken', String(takenBefore + 1));
  assert.equal(await text(page, '#live'), '轮询');
  await page.close();
});

test('the demo group buy: start, pay, a friend joins, progress and members live', async (context) => {
  const groupBuy = await demoActivity('GROUP_BUY');
  const leader = 'e2e-leader';
  const { page, problems } = await openPage(`/h5/activities/${groupBuy.id}?uid=${leader}`);
  await waitForText(page, '#buy', '发起拼团');
  await screenshot(page, '09-group-buy');

  await page.click('#buy');
  await page.waitForURL(/\/h5\/groups\/grp-/);
  const groupId = page.url().split('/h5/groups/')[1].split('?')[0];
  await page.waitForSelector('#order[data-status="PENDING_PAY"]');
  await page.click('#pay');
  await page.waitForSelector('#order[data-status="PAID"]');
  await waitForText(page, '#progress', '1/3');
  await assertLiveMode(page, context);
  await waitForText(page, '#status', '拼团中');
  await waitForText(page, '#join', '已参团');
  const invite = await page.inputValue('#invite-link');
  assert.equal(invite, `${BASE}/h5/groups/${groupId}?u_id=${leader}`);

  // A friend joins and pays through the API: the leader's page shows it live.
  const joined = await ok('POST', `/api/v1/groups/${groupId}/members`, { userId: 'e2e-friend-1', requestId: requestId() });
  await pay(joined.order.orderId, 'e2e-friend-1');
  await waitForText(page, '#progress', '2/3');
  await page.waitForFunction(() => document.querySelectorAll('#members .member:not(.member-empty)').length === 2);
  await screenshot(page, '10-group-progress');

  // A second friend opens the invite link and joins through the page.
  await page.goto(invite + '&uid=e2e-friend-2');
  await waitForText(page, '#join', '立即参团');
  await page.click('#join');
  await page.waitForSelector('#order[data-status="PENDING_PAY"]');
  await page.click('#pay');
  await waitForText(page, '#progress', '3/3');
  await waitForText(page, '#status', '拼团成功');
  const friendOrder = await ok('GET', `/api/v1/orders/${await text(page, '#order-id')}`);
  assert.equal(friendOrder.referrerId, leader, 'the invite link carries the leader as referrer');
  await screenshot(page, '11-group-success');
  assert.deepEqual(problems, []);
  await page.close();
});

test('an unknown activity gets the 404 page', async () => {
  const { page } = await openPage('/h5/activities/999999');
  assert.equal(await text(page, 'h1'), '活动不存在或已下线');
  await page.close();
});
