/* playcore H5 script: the activity page and the group page (served by src/routes/h5.rs).
 *
 * Plain ES2020, no framework, no build step. Everything comes from the public API
 * (/api/v1/...) and the websockets (/ws/activities/{id}, /ws/groups/{id}); when a websocket
 * cannot connect or closes, the page polls the GET endpoint every 2 s and reconnects later.
 *
 * The user: `uid` in the URL wins and is remembered; otherwise a random id is generated on
 * the first visit and kept in localStorage. `c_id` (channel) and `u_id` (referrer) in the
 * URL are remembered too and sent with every order as channelId / referrerId, and so is
 * `city` (the user's city, for activities limited to some cities).
 *
 * Hooks for tests: #live[data-mode] is "websocket", "polling" or "connecting";
 * #message[data-code] holds the last error code; #order[data-status] the order's status. */
(function () {
  'use strict';

  /** How often the page polls while it has no websocket. */
  const POLL_INTERVAL_MS = 2000;
  /** Waits before websocket reconnects: grows, then stays at the last value. */
  const RECONNECT_DELAYS_MS = [1000, 3000, 5000, 10000, 30000];
  /** Retries of a refused-for-load or lost request; the same requestId makes them safe. */
  const RETRIES_MAX = 2;
  /** Least time between two reloads of the open group list. */
  const GROUPS_RELOAD_MIN_MS = 2000;
  const STORAGE_PREFIX = 'playcore.';
  /** What the API accepts as an identifier: printable ASCII, at most 64 characters. */
  const IDENTIFIER = /^[\x21-\x7e]{1,64}$/;
  /** A city name: 1 to 64 characters, no control characters (names are often Chinese). */
  const CITY = /^[^\x00-\x1f\x7f]{1,64}$/;
  /** NOT_ELIGIBLE says which rule refused the user in `details.rule`. */
  const ELIGIBILITY_MESSAGES = {
    cities: '很抱歉，本活动仅限部分城市参与',
    newUserOnly: '很抱歉，本活动仅限新用户参与',
    mutuallyExclusive: '您已参加同期的互斥活动，无法同时参与本活动',
  };
  const GROUP_TEMPLATES = ['GROUP_BUY', 'COURSE_GROUP'];

  const ERROR_MESSAGES = {
    VALIDATION_FAILED: '请求参数有误，请刷新页面后重试',
    UNAUTHORIZED: '身份验证失败，请重新进入页面',
    SIGNATURE_INVALID: '支付签名校验失败，请稍后重试',
    FORBIDDEN: '您暂无权限进行此操作',
    NOT_IN_GRAY: '活动暂未对您开放，敬请期待',
    NOT_ELIGIBLE: '很抱歉，您不符合本活动的参与条件（如仅限新用户）',
    NOT_FOUND: '活动、订单或拼团不存在，可能已下线',
    PAYLOAD_TOO_LARGE: '请求内容过大，请刷新页面后重试',
    UNSUPPORTED_MEDIA_TYPE: '请求格式不受支持，请刷新页面后重试',
    NOT_STARTED: '活动尚未开始，请开始后再来抢购',
    ENDED: '活动已结束，下次早点来哦',
    OFFLINE: '活动已下线',
    SOLD_OUT: '手慢了，商品已被抢光',
    LIMIT_EXCEEDED: '您已达到每人限购数量',
    GROUP_FULL: '该团已满员，去发起一个新团吧',
    GROUP_CLOSED: '该团已结束或暂不可加入，去发起一个新团吧',
    ALREADY_IN_GROUP: '您已在这个团里了',
    INVALID_STATE: '当前状态不能进行此操作（订单可能已超时或已取消）',
    AMOUNT_MISMATCH: '支付金额与订单不符，请联系客服',
    RATE_LIMITED: '操作太频繁，请稍后再试',
    OVERLOADED: '当前参与人数过多，请稍后重试',
    STORAGE_FULL: '系统繁忙，请稍后重试',
    INTERNAL: '系统开小差了，请稍后重试',
    NETWORK: '网络异常，请检查网络后重试',
  };
  const TEMPLATE_NAMES = { FLASH_SALE: '限时秒杀', GROUP_BUY: '拼团', COURSE_GROUP: '拼班' };
  const PHASE_LABELS = {
    NOT_STARTED: '未开始',
    ONLINE: '抢购中',
    SOLD_OUT: '已抢光',
    ENDED: '已结束',
    OFFLINE: '已下线',
  };
  const ORDER_STATUS = {
    PENDING_PAY: '待支付',
    PAID: '已支付',
    CANCELLED: '已取消',
    TIMEOUT: '已超时',
    REFUND_PENDING: '退款中',
    REFUNDED: '已退款',
  };
  const GROUP_STATUS = { PENDING: '待开团', ACTIVE: '拼团中', SUCCESS: '拼团成功', FAILED: '拼团失败' };
  const GROUP_ENDS_LABEL = '距拼团结束';
  const LIVE_MODES = { websocket: '实时', polling: '轮询', connecting: '连接中' };

  // ------------------------------------------------------------------ small helpers

  const element = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function setText(id, text) {
    const node = element(id);
    if (node && node.textContent !== text) node.textContent = text;
  }

  function yuan(cents) {
    return '¥' + (Math.floor(cents / 100) + '.' + String(cents % 100).padStart(2, '0'));
  }

  function twoDigits(number) {
    return String(number).padStart(2, '0');
  }

  /** "01:02:03", or "3天 01:02:03" past a day. */
  function duration(ms) {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    const days = Math.floor(seconds / 86400);
    const clock = [Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60]
      .map(twoDigits)
      .join(':');
    return days > 0 ? days + '天 ' + clock : clock;
  }

  function clockTime(ms) {
    const date = new Date(ms);
    return [date.getHours(), date.getMinutes(), date.getSeconds()].map(twoDigits).join(':');
  }

  function randomHex(bytes) {
    const values = crypto.getRandomValues(new Uint8Array(bytes));
    return Array.from(values, (value) => value.toString(16).padStart(2, '0')).join('');
  }

  /** A fresh id per click; a retry of the same click reuses it (idempotent on the server). */
  function newRequestId() {
    return 'h5-' + Date.now().toString(36) + '-' + randomHex(8);
  }

  /** Two letters or digits of a user id for its avatar. */
  function avatarText(userId) {
    const letters = userId.replace(/[^0-9a-zA-Z]/g, '');
    return (letters.slice(-2) || '?').toUpperCase();
  }

  /** The user id for display: short enough for an avatar row. */
  function shortUser(userId) {
    return userId.length > 8 ? userId.slice(0, 3) + '…' + userId.slice(-4) : userId;
  }

  // ------------------------------------------------------------------ storage and identity

  const memoryStorage = {};

  function load(key) {
    try {
      return localStorage.getItem(STORAGE_PREFIX + key);
    } catch (error) {
      return memoryStorage[key] || null;
    }
  }

  function save(key, value) {
    memoryStorage[key] = value;
    try {
      localStorage.setItem(STORAGE_PREFIX + key, value);
    } catch (error) {
      // Private mode: the in-memory copy lasts as long as the page.
    }
  }

  /** Remembers a valid URL parameter under `key`. */
  function adoptParameter(parameters, name, key, pattern = IDENTIFIER) {
    const value = parameters.get(name);
    if (value && pattern.test(value)) save(key, value);
  }

  function identity() {
    const parameters = new URLSearchParams(location.search);
    adoptParameter(parameters, 'uid', 'userId');
    adoptParameter(parameters, 'c_id', 'channelId');
    adoptParameter(parameters, 'u_id', 'referrerId');
    adoptParameter(parameters, 'city', 'city', CITY);
    let userId = load('userId');
    if (!userId) {
      userId = 'u' + randomHex(6);
      save('userId', userId);
    }
    const referrerId = load('referrerId');
    return {
      userId,
      channelId: load('channelId'),
      referrerId: referrerId !== userId ? referrerId : null,
      city: load('city'),
    };
  }

  /** The body fields every order-creating request carries. */
  function orderSource(user) {
    const source = { userId: user.userId, requestId: newRequestId() };
    if (user.channelId) source.channelId = user.channelId;
    if (user.referrerId) source.referrerId = user.referrerId;
    if (user.city) source.city = user.city;
    return source;
  }

  // ------------------------------------------------------------------ server clock

  /** Server time minus local time, from the envelopes' timestamps: countdowns follow the
   * server even when the phone's clock is off. */
  let clockOffsetMs = 0;

  function serverNow() {
    return Date.now() + clockOffsetMs;
  }

  function observeServerTime(timestamp) {
    const serverMs = Date.parse(timestamp);
    if (!Number.isNaN(serverMs)) clockOffsetMs = serverMs - Date.now();
  }

  // ------------------------------------------------------------------ API

  /** One request; resolves to {ok, status, data} or {ok: false, code, network?}. */
  async function request(method, path, body) {
    const options = { method, headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (body) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      return { ok: false, code: 'NETWORK', network: true };
    }
    const envelope = await response.json().catch(() => null);
    if (envelope && envelope.timestamp) observeServerTime(envelope.timestamp);
    if (envelope && envelope.success) return { ok: true, status: response.status, data: envelope.data };
    const error = envelope && envelope.error;
    const code = error ? error.code : 'INTERNAL';
    const rule = error && error.details ? error.details.rule : undefined;
    return { ok: false, status: response.status, code, rule };
  }

  /** A request retried on OVERLOADED and on a lost connection, with the same body. */
  async function send(method, path, body) {
    for (let attempt = 0; ; attempt += 1) {
      const result = await request(method, path, body);
      const retriable = result.network || result.code === 'OVERLOADED';
      if (result.ok || !retriable || attempt >= RETRIES_MAX) return result;
      await sleep(400 * (attempt + 1));
    }
  }

  function errorText(code, rule) {
    if (code === 'NOT_ELIGIBLE' && ELIGIBILITY_MESSAGES[rule]) return ELIGIBILITY_MESSAGES[rule];
    return ERROR_MESSAGES[code] || '操作失败（' + code + '），请稍后重试';
  }

  // ------------------------------------------------------------------ messages

  function showMessage(text, kind, code) {
    const node = element('message');
    node.textContent = text;
    node.dataset.kind = kind;
    node.dataset.code = code || '';
    node.hidden = false;
  }

  function showError(code, rule) {
    showMessage(errorText(code, rule), 'error', code);
  }

  function hideMessage() {
    element('message').hidden = true;
  }

  // ------------------------------------------------------------------ live channel

  /** Keeps a websocket open on `path`, handing each frame to `onFrame`; polls with `poll`
   * every POLL_INTERVAL_MS while there is none, and reconnects with growing delays. */
  function liveChannel(path, poll, onFrame) {
    let pollTimer = null;
    let failures = 0;

    function setMode(mode) {
      const node = element('live');
      node.dataset.mode = mode;
      node.textContent = LIVE_MODES[mode];
    }

    function startPolling() {
      if (pollTimer) return;
      setMode('polling');
      poll();
      pollTimer = setInterval(poll, POLL_INTERVAL_MS);
    }

    function stopPolling() {
      clearInterval(pollTimer);
      pollTimer = null;
    }

    function receive(event) {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      failures = 0;
      stopPolling();
      setMode('websocket');
      onFrame(frame);
    }

    function retryLater() {
      startPolling();
      const delay = RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)];
      failures += 1;
      setTimeout(connect, delay);
    }

    function connect() {
      if (!('WebSocket' in window)) return startPolling();
      const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
      let socket;
      try {
        socket = new WebSocket(scheme + location.host + path);
      } catch (error) {
        return retryLater();
      }
      socket.onmessage = receive;
      socket.onclose = retryLater;
    }

    connect();
    return { refresh: poll };
  }

  // ------------------------------------------------------------------ orders (both pages)

  /** The order card: status, amount, pay deadline, pay button, paid state. */
  function orderCard(user, storageKey, onChange) {
    let order = null;
    let expiryChecked = false;

    function render() {
      if (!order) return;
      const card = element('order');
      card.hidden = false;
      card.dataset.status = order.status;
      setText('order-id', order.orderId);
      setText('order-amount', yuan(order.amount));
      setText('order-status', ORDER_STATUS[order.status] || order.status);
      const pending = order.status === 'PENDING_PAY';
      element('pay').hidden = !pending;
      element('order-paid').hidden = order.status !== 'PAID';
      setText('order-deadline', pending ? deadlineText(Date.parse(order.expiresAt)) : '');
      if (pending) checkExpiry(Date.parse(order.expiresAt));
    }

    function deadlineText(expiresMs) {
      const left = expiresMs - serverNow();
      if (left <= 0) return '支付时间已到，正在确认订单状态…';
      return '请在 ' + duration(left) + ' 内完成支付（' + clockTime(expiresMs - clockOffsetMs) + ' 前）';
    }

    /** Once the deadline passes, asks the server what became of the order. */
    function checkExpiry(expiresMs) {
      if (expiryChecked || serverNow() < expiresMs + 1000) return;
      expiryChecked = true;
      refresh();
    }

    function set(next) {
      if (order && order.orderId !== next.orderId) expiryChecked = false;
      order = next;
      save(storageKey, order.orderId);
      render();
      if (onChange) onChange(order);
    }

    async function refresh() {
      const orderId = order ? order.orderId : load(storageKey);
      if (!orderId) return;
      const result = await request('GET', '/api/v1/orders/' + encodeURIComponent(orderId));
      if (result.ok && result.data.userId === user.userId) set(result.data);
    }

    async function pay() {
      const button = element('pay');
      button.disabled = true;
      button.textContent = '支付中…';
      const path = '/api/v1/orders/' + encodeURIComponent(order.orderId) + '/pay';
      const result = await send('POST', path, { userId: user.userId });
      button.disabled = false;
      button.textContent = '立即支付';
      if (result.ok) {
        set(result.data.order || result.data);
        showMessage('支付成功！', 'ok');
      } else {
        showError(result.code, result.rule);
        await refresh();
      }
    }

    element('pay').addEventListener('click', () => {
      if (!element('pay').disabled && order) pay();
    });
    return { set, refresh, render, current: () => order };
  }

  // ------------------------------------------------------------------ activity rules

  /** What the buy button may do now: the platform's status rules, with the window checked
   * against the server clock too (the status flips on the server's timer tick). */
  function activityPhase(activity) {
    const now = serverNow();
    if (activity.status === 'ENDED' || now >= Date.parse(activity.endAt)) return 'ENDED';
    if (activity.status === 'OFFLINE') return 'OFFLINE';
    if (activity.status === 'NOT_STARTED' || now < Date.parse(activity.startAt)) return 'NOT_STARTED';
    if (activity.status === 'SOLD_OUT' || activity.stock.available <= 0) return 'SOLD_OUT';
    return 'ONLINE';
  }

  function isGroupTemplate(activity) {
    return GROUP_TEMPLATES.includes(activity.templateCode);
  }

  function unitText(activity) {
    const count = activity.unitsPerOrder > 1 ? activity.unitsPerOrder : '';
    return activity.unitName ? ' / ' + count + activity.unitName : '';
  }

  /** Title, template, price and unit: the parts of the header both pages share. */
  function renderHeader(activity) {
    setText('title', activity.title);
    document.title = activity.title;
    setText('template', TEMPLATE_NAMES[activity.templateCode] || '限时活动');
    setText('price', yuan(activity.price));
    setText('unit', unitText(activity));
    setText('action-price', yuan(activity.price));
  }

  function renderCountdown(startMs, endMs, endLabel) {
    const now = serverNow();
    if (now < startMs) {
      setText('countdown-label', '距开始');
      setText('countdown', duration(startMs - now));
    } else if (now < endMs) {
      setText('countdown-label', endLabel || '距结束');
      setText('countdown', duration(endMs - now));
    } else {
      setText('countdown-label', '已结束');
      setText('countdown', '00:00:00');
    }
  }

  function renderBar(barId, fillId, part, whole) {
    const percent = whole > 0 ? Math.min(100, Math.round((part * 100) / whole)) : 0;
    element(fillId).style.width = percent + '%';
    element(barId).setAttribute('aria-valuenow', String(percent));
    return percent;
  }

  // ------------------------------------------------------------------ the activity page

  function activityPage(activityId) {
    const user = identity();
    const base = '/api/v1/activities/' + activityId;
    const state = { activity: null, submitting: false, lastPhase: null, groupsLoadedAt: 0, groupsTimer: null };
    const order = orderCard(user, 'order.' + activityId, null);

    function renderStock(stock) {
      const taken = stock.sold + stock.reserved;
      setText('stock-taken', String(taken));
      setText('stock-total', String(stock.total));
      setText('stock-available', String(stock.available));
      const percent = renderBar('stock-bar', 'stock-fill', taken, stock.total);
      setText('stock-percent', '已抢 ' + percent + '%');
    }

    function buyLabel(phase) {
      if (state.submitting) return '提交中…';
      if (phase !== 'ONLINE') return PHASE_LABELS[phase];
      return isGroupTemplate(state.activity) ? '发起拼团' : '立即抢购';
    }

    function statusLabel(phase) {
      const group = phase === 'ONLINE' && isGroupTemplate(state.activity);
      return group ? '拼团进行中' : PHASE_LABELS[phase];
    }

    function renderBuyButton() {
      const phase = activityPhase(state.activity);
      const button = element('buy');
      button.disabled = state.submitting || phase !== 'ONLINE';
      button.dataset.phase = phase;
      setText('buy', buyLabel(phase));
      setText('status', statusLabel(phase));
      document.querySelectorAll('.button-join').forEach((join) => {
        join.disabled = state.submitting || phase !== 'ONLINE';
      });
      return phase;
    }

    function render() {
      const activity = state.activity;
      renderHeader(activity);
      setText('limit', '每人限购 ' + activity.perUserLimit + ' 份');
      renderStock(activity.stock);
      renderBuyButton();
      renderCountdown(Date.parse(activity.startAt), Date.parse(activity.endAt));
      element('groups').hidden = !isGroupTemplate(activity);
    }

    /** Takes a fuller or newer state; an older one (a late poll) is ignored. */
    function apply(update) {
      if (state.activity && update.version < state.activity.version) return;
      state.activity = Object.assign({}, state.activity, update);
      render();
      if (isGroupTemplate(state.activity)) scheduleGroupsReload();
    }

    async function poll() {
      const result = await request('GET', base);
      if (result.ok) apply(result.data);
    }

    function onFrame(frame) {
      if (frame.type !== 'activity' || !state.activity) return;
      apply({ status: frame.status, stock: frame.stock, version: frame.version });
    }

    /** Once a second: countdowns, and a fresh read when the window opens or closes. */
    function tick() {
      if (!state.activity) return;
      renderCountdown(Date.parse(state.activity.startAt), Date.parse(state.activity.endAt));
      const phase = renderBuyButton();
      if (state.lastPhase && phase !== state.lastPhase) channel.refresh();
      state.lastPhase = phase;
      order.render();
    }

    async function grab() {
      const body = Object.assign(orderSource(user), { quantity: 1 });
      const result = await send('POST', base + '/orders', body);
      if (result.ok) {
        order.set(result.data);
        showMessage('抢购成功！请在支付时限内完成支付', 'ok');
      } else {
        showError(result.code, result.rule);
        channel.refresh();
      }
    }

    /** Starts (no id) or joins a group, then goes to the group page to pay and share. */
    async function enterGroup(groupId) {
      const path = groupId ? '/api/v1/groups/' + groupId + '/members' : base + '/groups';
      const result = await send('POST', path, orderSource(user));
      if (result.ok) {
        const group = result.data.group;
        if (result.data.order) save('order.' + group.groupId, result.data.order.orderId);
        location.href = '/h5/groups/' + encodeURIComponent(group.groupId);
        return;
      }
      if (result.code === 'ALREADY_IN_GROUP' && groupId) {
        location.href = '/h5/groups/' + encodeURIComponent(groupId);
        return;
      }
      showError(result.code, result.rule);
      reloadGroups();
    }

    /** Disables every button at once (no double submit), runs `action`, re-enables. */
    async function submit(action) {
      if (state.submitting) return;
      state.submitting = true;
      renderBuyButton();
      hideMessage();
      try {
        await action();
      } finally {
        state.submitting = false;
        renderBuyButton();
      }
    }

    function groupItem(group) {
      const item = document.createElement('li');
      item.className = 'group-item';
      const info = document.createElement('div');
      info.className = 'group-info';
      const leader = document.createElement('div');
      leader.className = 'group-leader';
      leader.textContent = '团长 ' + shortUser(group.leaderId);
      const meta = document.createElement('div');
      meta.className = 'group-meta';
      const missing = group.progress.target - group.progress.current;
      meta.textContent = group.progress.current + '/' + group.progress.target + ' 人 · 还差 ' + missing + ' 人';
      info.append(leader, meta);
      const join = document.createElement('button');
      join.type = 'button';
      join.className = 'button button-small button-join';
      join.textContent = '去参团';
      join.addEventListener('click', () => submit(() => enterGroup(group.groupId)));
      item.append(info, join);
      return item;
    }

    /** Reloads the open groups at most every GROUPS_RELOAD_MIN_MS, the last change
     * included (a skipped reload is scheduled for the end of the window). */
    function scheduleGroupsReload() {
      if (state.groupsTimer) return;
      const wait = Math.max(0, state.groupsLoadedAt + GROUPS_RELOAD_MIN_MS - Date.now());
      state.groupsTimer = setTimeout(() => {
        state.groupsTimer = null;
        reloadGroups();
      }, wait);
    }

    async function reloadGroups() {
      state.groupsLoadedAt = Date.now();
      const result = await request('GET', base + '/groups?status=ACTIVE');
      if (!result.ok) return;
      const list = element('group-list');
      list.replaceChildren(...result.data.map(groupItem));
      element('groups-empty').hidden = result.data.length > 0;
      renderBuyButton();
    }

    element('buy').addEventListener('click', () => {
      if (element('buy').disabled || state.submitting) return;
      submit(() => (isGroupTemplate(state.activity) ? enterGroup(null) : grab()));
    });

    setText('user-id', user.userId);
    let channel = { refresh: poll };
    request('GET', base).then((result) => {
      if (!result.ok) return showError(result.code, result.rule);
      apply(result.data);
      channel = liveChannel('/ws/activities/' + activityId, poll, onFrame);
      order.refresh();
    });
    setInterval(tick, 1000);
  }

  // ------------------------------------------------------------------ the group page

  function groupPage(groupId) {
    const user = identity();
    const base = '/api/v1/groups/' + groupId;
    const state = { group: null, activity: null, submitting: false };
    const order = orderCard(user, 'order.' + groupId, () => channel.refresh());

    function memberItem(member, leaderId) {
      const item = document.createElement('li');
      item.className = 'member' + (member.userId === leaderId ? ' member-leader' : '');
      const avatar = document.createElement('div');
      avatar.className = 'avatar';
      avatar.textContent = member.userId === user.userId ? '我' : avatarText(member.userId);
      const name = document.createElement('div');
      name.className = 'member-name';
      name.textContent = member.userId === leaderId ? '团长' : shortUser(member.userId);
      const status = document.createElement('div');
      status.textContent = ORDER_STATUS[member.orderStatus] || member.orderStatus;
      item.append(avatar, name, status);
      return item;
    }

    function emptySlot() {
      const item = document.createElement('li');
      item.className = 'member member-empty';
      const avatar = document.createElement('div');
      avatar.className = 'avatar';
      avatar.textContent = '?';
      const name = document.createElement('div');
      name.textContent = '待加入';
      item.append(avatar, name);
      return item;
    }

    function renderMembers(group) {
      const items = group.members.map((member) => memberItem(member, group.leaderId));
      for (let slot = group.members.length; slot < group.progress.target; slot += 1) {
        items.push(emptySlot());
      }
      element('members').replaceChildren(...items);
    }

    function progressHint(group) {
      const missing = group.progress.target - group.progress.current;
      const course = state.activity && state.activity.templateCode === 'COURSE_GROUP';
      if (group.status === 'PENDING') return '团长支付后开团，好友即可加入';
      if (group.status === 'SUCCESS') return course ? '已成班，课程即将开课！' : '拼团成功！';
      if (group.status === 'FAILED') return '拼团未成功，已支付的款项将原路退回';
      return '还差 ' + missing + ' 人成团，快邀请好友吧';
    }

    function isMember(group) {
      return group.members.some((member) => member.userId === user.userId);
    }

    /** The join button's label; `null` when joining is possible now. */
    function joinRefusal(group) {
      if (state.submitting) return '提交中…';
      if (isMember(group)) return '已参团';
      if (group.status !== 'ACTIVE') return GROUP_STATUS[group.status] || group.status;
      if (group.members.length >= group.progress.target) return '已满员';
      if (serverNow() >= Date.parse(group.expiresAt)) return '已结束';
      const phase = state.activity ? activityPhase(state.activity) : 'ONLINE';
      return phase === 'ONLINE' ? null : PHASE_LABELS[phase];
    }

    function renderJoinButton() {
      if (!state.group) return;
      const refusal = joinRefusal(state.group);
      element('join').disabled = refusal !== null;
      setText('join', refusal || '立即参团');
    }

    function render() {
      const group = state.group;
      setText('status', GROUP_STATUS[group.status] || group.status);
      setText('progress', group.progress.current + '/' + group.progress.target);
      renderBar('progress-bar', 'progress-fill', group.progress.current, group.progress.target);
      setText('progress-hint', progressHint(group));
      renderMembers(group);
      renderJoinButton();
      renderGroupCountdown(group);
    }

    function apply(group) {
      if (state.group && group.version < state.group.version) return;
      state.group = group;
      render();
    }

    async function poll() {
      const result = await request('GET', base);
      if (result.ok) apply(result.data);
    }

    /** A frame carries status and progress only: on news, reload members and the order. */
    function onFrame(frame) {
      if (frame.type !== 'group' || !state.group || frame.version <= state.group.version) return;
      const update = { status: frame.status, progress: frame.progress, version: frame.version };
      apply(Object.assign({}, state.group, update));
      poll();
      if (order.current()) order.refresh();
    }

    async function join() {
      const result = await send('POST', base + '/members', orderSource(user));
      if (result.ok) {
        apply(result.data.group);
        if (result.data.order) order.set(result.data.order);
        showMessage('参团成功！请在支付时限内完成支付', 'ok');
      } else {
        showError(result.code, result.rule);
        poll();
      }
    }

    async function submit() {
      if (state.submitting) return;
      state.submitting = true;
      renderJoinButton();
      hideMessage();
      try {
        await join();
      } finally {
        state.submitting = false;
        renderJoinButton();
      }
    }

    function inviteLink() {
      const link = new URL('/h5/groups/' + encodeURIComponent(groupId), location.origin);
      link.searchParams.set('u_id', user.userId);
      if (user.channelId) link.searchParams.set('c_id', user.channelId);
      return link.toString();
    }

    async function copyInvite() {
      const input = element('invite-link');
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (error) {
        input.select();
        if (!document.execCommand('copy')) return showMessage('请长按链接手动复制', 'error');
      }
      showMessage('邀请链接已复制，快发给好友吧', 'ok');
    }

    async function loadActivity(activityId) {
      element('activity-link').href = '/h5/activities/' + encodeURIComponent(activityId);
      const result = await request('GET', '/api/v1/activities/' + encodeURIComponent(activityId));
      if (!result.ok) return;
      state.activity = result.data;
      renderHeader(state.activity);
      renderJoinButton();
    }

    /** The time left while the group is open; its outcome once it is decided. */
    function renderGroupCountdown(group) {
      if (group.status === 'PENDING' || group.status === 'ACTIVE') {
        renderCountdown(0, Date.parse(group.expiresAt), GROUP_ENDS_LABEL);
      } else {
        setText('countdown-label', '拼团已结束');
        setText('countdown', GROUP_STATUS[group.status] || group.status);
      }
    }

    function tick() {
      if (!state.group) return;
      renderGroupCountdown(state.group);
      renderJoinButton();
      order.render();
    }

    element('join').addEventListener('click', () => {
      if (!element('join').disabled) submit();
    });
    element('copy').addEventListener('click', copyInvite);
    element('invite-link').value = inviteLink();
    setText('user-id', user.userId);
    let channel = { refresh: poll };
    request('GET', base).then((result) => {
      if (!result.ok) return showError(result.code, result.rule);
      apply(result.data);
      loadActivity(result.data.activityId);
      channel = liveChannel('/ws/groups/' + groupId, poll, onFrame);
      order.refresh();
    });
    setInterval(tick, 1000);
  }

  // ------------------------------------------------------------------ start

  const page = document.body.dataset.page;
  if (page === 'activity') activityPage(encodeURIComponent(document.body.dataset.activityId));
  if (page === 'group') groupPage(encodeURIComponent(document.body.dataset.groupId));
})();
