// The Shiku admin console: a single page over the /console JSON API (issue 8). No framework and
// no build step; every screen is built with `h()` from the API's answers.

import { api, apiPage, ApiError, area, setArea, setToken, token, whenSessionEnds } from './api.js';
import { onlineChart } from './chart.js';
import { md5 } from './md5.js';

const ROLE_NAMES = { 1: '游客', 4: '客服', 5: '管理员', 6: '超级管理员', 7: '财务' };
const MEMBER_ROLES = { 1: '群主', 2: '管理员', 3: '成员', 4: '隐身人', 5: '监控人' };
const MSG_TYPES = { 1: '文本', 2: '图片', 3: '语音', 4: '位置', 5: '动画', 6: '视频', 8: '名片', 9: '文件', 10: '系统提示' };
const msgType = (t) => MSG_TYPES[t] || `类型 ${t}`;
const RELATIONS = { 1: '关注', 2: '好友', '-1': '黑名单', 0: '陌生人' };

// ---------------------------------------------------------------- DOM helpers

/** Builds an element: `attrs` are properties (`class`, `text`, `onclick`, `dataset`, …). */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const $ = (sel, root = document) => root.querySelector(sel);

function fmtTime(v) {
  if (!v || v <= 0) return '—';
  // The API mixes seconds (createTime) and milliseconds (ts, timeSend).
  const d = new Date(v < 1e12 ? v * 1000 : v);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A `datetime-local` or `date` input's value as milliseconds, or undefined. */
function inputMillis(input) {
  if (!input.value) return undefined;
  const t = new Date(input.value).getTime();
  return Number.isNaN(t) ? undefined : t;
}

/** The phone without its area code, for display. */
function nationalPhone(u) {
  if (u.phone) return u.phone;
  const t = u.telephone || '';
  const area = u.areaCode || '86';
  return t.startsWith(area) ? t.slice(area.length) : t;
}

let toastTimer;
/** Shows a short message at the bottom of the page. */
function toast(message, kind = 'ok') {
  const t = $('#toast');
  // An open modal dialog sits in the top layer, above anything in the body: show the message
  // inside the dialog then, or it would be hidden behind the backdrop.
  const dlg = $('#modal');
  const host = dlg.open ? dlg : document.body;
  if (t.parentElement !== host) host.append(t);
  t.textContent = message;
  t.className = `toast ${kind}`;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 6000 : 3000);
}

/** Runs an action, reporting failures; a session that ended has already shown the login form. */
async function run(fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return undefined;
    toast(e.message || String(e), 'error');
    return undefined;
  }
}

// ---------------------------------------------------------------- modal dialog

/**
 * Opens the dialog with `body` (nodes). `actions` are [{label, kind, onclick}] where onclick may
 * return false (or a promise of false) to keep the dialog open, e.g. when the call failed.
 */
function openModal(title, body, actions = []) {
  const dlg = $('#modal');
  $('#modal-title').textContent = title;
  $('#modal-body').replaceChildren(...[body].flat());
  const bar = $('#modal-actions');
  bar.replaceChildren(
    ...actions.map((a) => h('button', {
      type: 'button',
      class: a.kind || '',
      text: a.label,
      onclick: async (ev) => {
        // Held here: the event's currentTarget is gone once the handler awaits.
        const button = ev.currentTarget;
        button.disabled = true;
        try {
          const keep = await a.onclick();
          if (keep !== false) dlg.close();
        } finally {
          button.disabled = false;
        }
      },
    })),
    h('button', { type: 'button', text: actions.length ? '取消' : '关闭', onclick: () => dlg.close() }),
  );
  if (!dlg.open) dlg.showModal();
}

/** A labelled form field. */
function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { text: label }), input, hint && h('small', { text: hint }));
}

// ---------------------------------------------------------------- paged tables

/**
 * A table filled from a paged endpoint: `load({page, limit})` answers that page as `{rows, count}`
 * (`apiPage`); `columns` are [{title, cell(row) → node|string}].
 */
function pagedTable({ columns, load, limit = 15, empty = '没有符合条件的数据', id }) {
  const tbody = h('tbody');
  const info = h('span', { class: 'page-info' });
  const prev = h('button', { type: 'button', text: '上一页' });
  const next = h('button', { type: 'button', text: '下一页' });
  let page = 1;
  let pages = 1;
  // Only the newest request may fill the table: an earlier, slower answer (the unfiltered
  // list that was loading when a search started) must not overwrite a newer one.
  let latest = 0;
  const wrap = h('div', { class: 'table-wrap', id },
    h('table', {}, h('thead', {}, h('tr', {}, columns.map((c) => h('th', { text: c.title })))), tbody),
    h('div', { class: 'pager' }, prev, info, next));
  async function show(p) {
    const ticket = ++latest;
    const res = await run(() => load({ page: p, limit }));
    if (!res || ticket !== latest) return;
    page = p;
    pages = Math.max(1, Math.ceil(res.count / limit));
    tbody.replaceChildren(...(res.rows.length
      ? res.rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(row)))))
      : [h('tr', {}, h('td', { colSpan: columns.length, class: 'empty', text: empty }))]));
    info.textContent = `第 ${page} / ${pages} 页，共 ${res.count} 条`;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  }
  prev.onclick = () => show(page - 1);
  next.onclick = () => show(page + 1);
  return { node: wrap, reload: (p) => show(p ?? page) };
}

function actions(...buttons) {
  return h('div', { class: 'row-actions' }, buttons);
}

function btn(label, onclick, kind = '') {
  return h('button', { type: 'button', class: `small ${kind}`, text: label, onclick });
}

function toolbar(...items) {
  return h('form', { class: 'toolbar', onsubmit: (e) => e.preventDefault() }, items);
}

// ---------------------------------------------------------------- screens

const screens = {
  dashboard: { title: '数据概览', render: renderDashboard },
  users: { title: '用户管理', render: renderUsers },
  reports: { title: '举报管理', render: renderReports },
  rooms: { title: '群组管理', render: renderRooms },
  chats: { title: '聊天记录', render: renderChats },
  messages: { title: '消息推送', render: renderMessages },
  admins: { title: '管理员', render: renderAdmins },
  config: { title: '系统配置', render: renderConfig },
  logins: { title: '登录保护', render: renderLoginBlocks },
  'mp-home': { title: '公众号主页', render: renderMpHome, area: 'mp' },
  'mp-menu': { title: '菜单管理', render: renderMpMenu, area: 'mp' },
  'mp-fans': { title: '粉丝管理', render: renderMpFans, area: 'mp' },
  'mp-msgs': { title: '消息管理', render: renderMpMessages, area: 'mp' },
  'mp-mass': { title: '群发消息', render: renderMpMass, area: 'mp' },
};
const areaOf = (name) => screens[name]?.area || 'console';

async function renderDashboard(main) {
  const stat = (id, label) => h('div', { class: 'stat' }, h('span', { class: 'stat-label', text: label }), h('strong', { id, text: '…' }));
  const hours = h('select', { id: 'chart-hours' },
    [[6, '最近 6 小时'], [24, '最近 24 小时'], [72, '最近 3 天'], [168, '最近 7 天']]
      .map(([v, l]) => h('option', { value: v, text: l, selected: v === 24 })));
  const chartBox = h('div', { id: 'online-chart', class: 'chart-box' });
  main.append(
    h('div', { class: 'stats' },
      stat('stat-users', '用户总数'), stat('stat-online', '当前在线'),
      stat('stat-rooms', '群组总数'), stat('stat-messages', '今日单聊消息')),
    h('section', { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', { text: '在线用户趋势' }), hours,
        btn('刷新', () => loadAll())),
      chartBox));
  async function loadChart() {
    const s = await run(() => api('/console/userStatus', { hours: hours.value }));
    if (!s) return;
    const now = Math.floor(Date.now() / 1000);
    // The newest offline count, as the reference's statistics (/user/getUserStatusCount) give it.
    const offline = await run(() => api('/user/getUserStatusCount', { type: 0, startData: now - 3600 }));
    const last = Array.isArray(offline) && offline.length ? offline[offline.length - 1].count : null;
    chartBox.replaceChildren(onlineChart(s.samples, now - Number(hours.value) * 3600, now),
      h('p', { class: 'muted', id: 'online-note', text: `每 ${Math.round(s.intervalSecs / 60)} 分钟采样一次；当前在线 ${s.onlineNow} 人，用户总数 ${s.userCount}${last === null ? '' : `；最近一次采样离线 ${last} 人`}` }));
  }
  async function loadAll() {
    const s = await run(() => api('/console/summary'));
    if (s) {
      $('#stat-users').textContent = s.userCount;
      $('#stat-online').textContent = s.onlineNow;
      $('#stat-rooms').textContent = s.roomCount;
      $('#stat-messages').textContent = s.messagesToday;
    }
    await loadChart();
  }
  hours.onchange = loadChart;
  await loadAll();
}

// ---- users

function userForm(u) {
  const creating = !u;
  const i = {
    telephone: h('input', { name: 'telephone', value: u ? nationalPhone(u) : '', required: creating, inputMode: 'numeric' }),
    areaCode: h('input', { name: 'areaCode', value: u?.areaCode || '86', size: 4 }),
    nickname: h('input', { name: 'nickname', value: u?.nickname || '' }),
    password: h('input', { name: 'password', type: 'password', autocomplete: 'new-password' }),
    name: h('input', { name: 'name', value: u?.name || '' }),
    sex: h('select', { name: 'sex' }, [[0, '女'], [1, '男']].map(([v, l]) => h('option', { value: v, text: l, selected: (u?.sex ?? 1) === v }))),
    birthday: h('input', { name: 'birthday', type: 'date', value: u?.birthday > 0 ? new Date(u.birthday * 1000).toISOString().slice(0, 10) : '' }),
    userType: h('input', { name: 'userType', type: 'number', min: 0, max: 3, value: u?.userType ?? 0 }),
    description: h('textarea', { name: 'description', rows: 2, text: u?.description || '' }),
  };
  const body = h('div', { class: 'form-grid' },
    field('手机号', i.telephone, creating ? '必填，不含区号' : '修改后用户需用新号码登录'),
    field('区号', i.areaCode),
    field('昵称', i.nickname),
    field('密码', i.password, creating ? '必填' : '留空则不修改'),
    field('真实姓名', i.name),
    field('性别', i.sex),
    field('生日', i.birthday),
    field('用户类型 (0–3)', i.userType),
    field('个性签名', i.description));
  const values = () => {
    const v = {
      telephone: i.telephone.value.trim(),
      areaCode: i.areaCode.value.trim(),
      nickname: i.nickname.value.trim(),
      name: i.name.value.trim(),
      sex: i.sex.value,
      userType: i.userType.value,
      description: i.description.value.trim(),
    };
    if (i.password.value) v.password = i.password.value;
    if (i.birthday.value) v.birthday = Math.floor(new Date(i.birthday.value).getTime() / 1000);
    return v;
  };
  return { body, values };
}

function editUser(u, after) {
  const f = userForm(u);
  openModal(u ? `编辑用户 ${u.nickname}（${u.userId}）` : '新建用户', f.body, [{
    label: '保存',
    kind: 'primary',
    onclick: async () => {
      const v = f.values();
      if (!u && (!v.telephone || !v.password)) {
        toast('新建用户需要填写手机号和密码', 'error');
        return false;
      }
      const r = await run(() => api('/console/updateUser', { userId: u ? u.userId : 0, ...v }));
      if (!r) return false;
      toast(r.created ? `已创建用户 ${r.userId}` : '已保存');
      after(r);
      return true;
    },
  }]);
}

async function viewUser(userId) {
  const u = await run(() => api('/console/updateUser', { userId }));
  if (!u) return;
  const rows = [
    ['用户ID', u.userId], ['昵称', u.nickname], ['手机号', `+${u.areaCode || ''} ${nationalPhone(u)}`],
    ['真实姓名', u.name || '—'], ['性别', u.sex === 1 ? '男' : '女'], ['用户类型', u.userType],
    ['个性签名', u.description || '—'], ['注册时间', fmtTime(u.createTime)],
    ['最后登录', fmtTime(u.loginLog?.loginTime)], ['在线', u.onlinestate === 1 ? '在线' : '离线'],
    ['状态', u.status === -1 ? '已锁定' : '正常'], ['好友数', u.friendsCount ?? 0],
  ];
  openModal(`用户详情：${u.nickname}`, h('dl', { class: 'details' }, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })])));
}

function resetPassword(u) {
  const pw = h('input', { type: 'password', autocomplete: 'new-password', placeholder: '留空则重置为 123456' });
  openModal(`重置密码：${u.nickname}（${u.userId}）`, [field('新密码', pw), h('p', { class: 'muted', text: '重置后该用户的所有登录会话立即失效。' })], [{
    label: '重置',
    kind: 'danger',
    onclick: async () => {
      const r = await run(() => api('/console/restPwd', { userId: u.userId, password: pw.value }));
      if (!r) return false;
      toast(pw.value ? '密码已重置' : '密码已重置为 123456');
      return true;
    },
  }]);
}

async function renderUsers(main) {
  const keyword = h('input', { id: 'user-keyword', type: 'search', placeholder: '昵称 / 手机号 / 用户ID' });
  const online = h('select', { id: 'user-online' }, h('option', { value: '', text: '全部状态' }), h('option', { value: 1, text: '在线' }), h('option', { value: 0, text: '离线' }));
  const from = h('input', { type: 'date', title: '注册日期起' });
  const to = h('input', { type: 'date', title: '注册日期止' });
  const table = pagedTable({
    id: 'user-table',
    columns: [
      { title: '用户ID', cell: (u) => String(u.userId) },
      { title: '昵称', cell: (u) => u.nickname },
      { title: '手机号', cell: (u) => nationalPhone(u) },
      { title: '注册时间', cell: (u) => fmtTime(u.createTime) },
      { title: '最后登录', cell: (u) => fmtTime(u.loginLog?.loginTime) },
      { title: '在线', cell: (u) => h('span', { class: `badge ${u.onlinestate === 1 ? 'on' : ''}`, text: u.onlinestate === 1 ? '在线' : '离线' }) },
      { title: '状态', cell: (u) => h('span', { class: `badge ${u.status === -1 ? 'bad' : 'good'}`, text: u.status === -1 ? '已锁定' : '正常' }) },
      {
        title: '操作',
        cell: (u) => actions(
          btn('查看', () => viewUser(u.userId)),
          btn('编辑', () => editUser(u, () => table.reload())),
          u.status === -1
            ? btn('解锁', () => setStatus(u, 1))
            : btn('锁定', () => setStatus(u, -1), 'warn'),
          btn('重置密码', () => resetPassword(u)),
          btn('好友', () => userRelations(u)),
          btn('删除', () => deleteUser(u), 'danger')),
      },
    ],
    load: (paging) => apiPage('/console/userList', {
      ...paging, keyWorld: keyword.value.trim(), onlinestate: online.value,
      startDate: from.value, endDate: to.value,
    }),
  });
  async function setStatus(u, status) {
    const what = status === -1 ? '锁定' : '解锁';
    const note = status === -1 ? '锁定后该用户立即下线且无法登录。' : '';
    if (!window.confirm(`确定${what}用户「${u.nickname}」（${u.userId}）吗？${note}`)) return;
    if (await run(() => api('/console/changeStatus', { userId: u.userId, status }))) {
      toast(`已${what}用户 ${u.nickname}`);
    }
    table.reload();
  }
  async function deleteUser(u) {
    if (!window.confirm(`确定永久删除用户「${u.nickname}」（${u.userId}）吗？其好友关系、群成员身份都将删除，他创建的群将被解散，且无法恢复。`)) return;
    if (await run(() => api('/console/deleteUser', { userId: u.userId }))) toast('用户已删除');
    table.reload();
  }
  main.append(
    toolbar(keyword, online, h('span', { class: 'muted', text: '注册日期' }), from, h('span', { text: '至' }), to,
      h('button', { type: 'submit', class: 'primary', id: 'user-search', text: '搜索', onclick: () => table.reload(1) }),
      h('button', {
        type: 'button',
        text: '新建用户',
        // Show the new user: a numeric keyword finds exactly that userId.
        onclick: () => editUser(null, (r) => { keyword.value = String(r.userId); table.reload(1); }),
      })),
    table.node);
  await table.reload(1);
}

// ---- rooms

async function roomMembers(room, after) {
  const body = h('div');
  async function show() {
    const r = await run(() => api('/console/getRoomMember', { roomId: room.id }));
    if (!r) return;
    const invite = h('input', { id: 'invite-ids', placeholder: '用户ID，多个用逗号分隔' });
    body.replaceChildren(
      h('p', { class: 'muted', text: `群号 ${r.jid}，共 ${r.members.length} 人` }),
      h('table', { class: 'compact' },
        h('thead', {}, h('tr', {}, ['用户ID', '昵称', '身份', '加入时间', '操作'].map((t) => h('th', { text: t })))),
        h('tbody', {}, r.members.map((m) => h('tr', {},
          h('td', { text: String(m.userId) }), h('td', { text: m.nickname }),
          h('td', { text: MEMBER_ROLES[m.role] || String(m.role) }), h('td', { text: fmtTime(m.createTime) }),
          h('td', {}, m.role === 1 ? '' : btn('移出群', async () => {
            if (!window.confirm(`确定将「${m.nickname}」移出群「${r.name}」吗？`)) return;
            if (await run(() => api('/console/deleteMember', { roomId: room.id, userId: m.userId }))) toast('已移出');
            await show();
            after();
          }, 'danger')))))),
      h('div', { class: 'toolbar' }, invite, btn('邀请入群', async () => {
        const ids = invite.value.split(/[,，\s]+/).filter(Boolean).join(',');
        if (!ids) return toast('请填写要邀请的用户ID', 'error');
        const res = await run(() => api('/console/inviteJoinRoom', { roomId: room.id, userIds: ids }));
        if (res) toast(`已邀请 ${res.added?.length ?? 0} 人入群`);
        await show();
        after();
      }, 'primary')));
  }
  openModal(`群成员：${room.name}`, body);
  await show();
}

async function renderRooms(main) {
  const keyword = h('input', { id: 'room-keyword', type: 'search', placeholder: '群名称 / 群描述' });
  const least = h('input', { type: 'number', min: 0, placeholder: '人数多于', class: 'narrow' });
  const table = pagedTable({
    id: 'room-table',
    columns: [
      { title: '群名称', cell: (r) => r.name },
      { title: '群号 (jid)', cell: (r) => h('code', { text: r.jid }) },
      { title: '群主', cell: (r) => `${r.nickname || ''}（${r.userId}）` },
      { title: '人数', cell: (r) => String(r.userSize) },
      { title: '创建时间', cell: (r) => fmtTime(r.createTime) },
      { title: '状态', cell: (r) => h('span', { class: `badge ${r.s === -1 ? 'bad' : 'good'}`, text: r.s === -1 ? '已锁定' : '正常' }) },
      {
        title: '操作',
        cell: (r) => actions(
          btn('成员', () => roomMembers(r, () => table.reload())),
          btn('聊天记录', () => show('chats', { roomJid: r.jid })),
          r.s === -1 ? btn('解锁', () => lockRoom(r, 1)) : btn('锁定', () => lockRoom(r, -1), 'warn'),
          btn('解散', () => dissolve(r), 'danger')),
      },
    ],
    load: (paging) => apiPage('/console/roomList', { ...paging, keyWorld: keyword.value.trim(), leastNumbers: least.value }),
  });
  async function lockRoom(r, s) {
    if (await run(() => api('/console/updateRoom', { roomId: r.id, s }))) toast(s === -1 ? '群已锁定' : '群已解锁');
    table.reload();
  }
  async function dissolve(r) {
    if (!window.confirm(`确定解散群「${r.name}」吗？所有成员将被移出，且无法恢复。`)) return;
    if (await run(() => api('/console/deleteRoom', { roomId: r.id }))) toast(`群「${r.name}」已解散`);
    table.reload();
  }
  main.append(
    toolbar(keyword, least, h('button', { type: 'submit', class: 'primary', id: 'room-search', text: '搜索', onclick: () => table.reload(1) }),
      h('button', { type: 'button', text: '新建群', onclick: () => addRoom((name) => { keyword.value = name; table.reload(1); }) })),
    table.node);
  await table.reload(1);
}

/** Creates a room for a user with members (`/console/addRoom`). */
function addRoom(after) {
  const owner = h('input', { name: 'owner', type: 'number', required: true });
  const name = h('input', { name: 'room-name', required: true });
  const desc = h('input', { name: 'room-desc' });
  const ids = h('input', { name: 'member-ids', placeholder: '用户ID，多个用逗号分隔' });
  openModal('新建群', h('div', { class: 'form-grid' },
    field('群主用户ID', owner), field('群名称', name), field('群描述', desc), field('成员', ids)), [{
    label: '创建',
    kind: 'primary',
    onclick: async () => {
      if (!owner.value || !name.value.trim()) {
        toast('请填写群主和群名称', 'error');
        return false;
      }
      const members = ids.value.split(/[,，\s]+/).filter(Boolean).map(Number);
      const r = await run(() => api('/console/addRoom', {
        userId: owner.value, name: name.value.trim(), desc: desc.value.trim(), ids: JSON.stringify(members),
      }));
      if (!r) return false;
      toast(`已创建群「${name.value.trim()}」`);
      after(name.value.trim());
      return true;
    },
  }]);
}

// ---- relations

/** A user's relations, with the console's friend and blacklist operations. */
async function userRelations(u) {
  const body = h('div');
  async function show() {
    const r = await run(() => apiPage('/console/friendsList', { userId: u.userId, page: 1, limit: 200 }));
    if (!r) return;
    const op = async (path, params, done) => {
      if (await run(() => api(path, params))) toast(done);
      await show();
    };
    body.replaceChildren(
      h('p', { class: 'muted', text: `共 ${r.count} 条关系（好友、关注、黑名单）` }),
      h('table', { class: 'compact', id: 'relation-table' },
        h('thead', {}, h('tr', {}, ['用户ID', '昵称', '关系', '拉黑', '操作'].map((t) => h('th', { text: t })))),
        h('tbody', {}, r.rows.length ? r.rows.map((f) => h('tr', {},
          h('td', { text: String(f.toUserId) }), h('td', { text: f.toNickname || '' }),
          h('td', { text: RELATIONS[f.status] ?? String(f.status) }),
          h('td', { text: f.blacklist === 1 ? '是' : '否' }),
          h('td', {}, actions(
            f.blacklist === 1
              ? btn('取消拉黑', () => op('/console/blacklist/operation', { userId: u.userId, toUserId: f.toUserId, type: 2 }, '已取消拉黑'))
              : btn('拉黑', () => op('/console/blacklist/operation', { userId: u.userId, toUserId: f.toUserId, type: 1 }, '已拉黑'), 'warn'),
            f.status === 2 && btn('解除好友', async () => {
              if (!window.confirm(`确定解除「${u.nickname}」与「${f.toNickname}」的好友关系吗？双方都会收到通知。`)) return;
              await op('/console/deleteFriends', { userId: u.userId, toUserId: f.toUserId }, '已解除好友关系');
            }, 'danger')))))
          : [h('tr', {}, h('td', { colSpan: 5, class: 'empty', text: '没有关系' }))])));
  }
  openModal(`好友关系：${u.nickname}（${u.userId}）`, body);
  await show();
}

// ---- reports

async function renderReports(main) {
  const status = h('select', { id: 'report-status' },
    [[0, '待处理'], [1, '已处理'], [-1, '全部']].map(([v, l]) => h('option', { value: v, text: l })));
  const kind = h('select', { id: 'report-type' },
    [[0, '用户和群组'], [1, '举报用户'], [2, '举报群组']].map(([v, l]) => h('option', { value: v, text: l })));
  const table = pagedTable({
    id: 'report-table',
    empty: '没有举报',
    columns: [
      { title: '时间', cell: (r) => fmtTime(r.time) },
      { title: '举报人', cell: (r) => `${r.nickname || ''}（${r.userId}）` },
      { title: '被举报', cell: (r) => (r.roomId ? `群「${r.roomName || r.roomId}」` : `${r.toNickname || ''}（${r.toUserId}）`) },
      { title: '原因', cell: (r) => String(r.reason) },
      {
        title: '状态',
        cell: (r) => h('span', { class: `badge ${r.status === 1 ? 'good' : 'bad'}`, text: r.status === 1 ? (r.action === 1 ? '已锁定' : '已处理') : '待处理' }),
      },
      {
        title: '操作',
        cell: (r) => (r.status === 1 ? '' : actions(
          btn('忽略', () => handle(r, 0)),
          btn(r.roomId ? '锁定群' : '锁定用户', () => handle(r, 1), 'danger'))),
      },
    ],
    load: (paging) => apiPage('/console/reportList', { ...paging, status: status.value, type: kind.value }),
  });
  async function handle(r, lock) {
    const target = r.roomId ? `群「${r.roomName || r.roomId}」` : `用户「${r.toNickname}」（${r.toUserId}）`;
    if (lock && !window.confirm(`确定锁定${target}吗？同一对象的待处理举报将一并处理。`)) return;
    const res = await run(() => api('/console/report/handle', { reportId: r.reportId, lock }));
    if (res) toast(`已处理 ${res.handled} 条举报`);
    table.reload();
  }
  status.onchange = () => table.reload(1);
  kind.onchange = () => table.reload(1);
  main.append(toolbar(status, kind, btn('刷新', () => table.reload())), table.node);
  await table.reload(1);
}

// ---- public accounts (the back office of a userType 2 account, /mp)

/** A paged /mp list (`pageIndex` from 0, `pageSize`) as pagedTable loads it. */
const mpPage = (path, params = {}) => ({ page, limit }) => apiPage(path, { ...params, pageIndex: page - 1, pageSize: limit });

async function followJob(box, jobId) {
  box.textContent = `任务 ${jobId} 已开始…`;
  for (;;) {
    await new Promise((ok) => { setTimeout(ok, 500); });
    if (!box.isConnected) return;
    const s = await run(() => api('/mp/job', { jobId }));
    if (!s) return;
    box.textContent = `${s.done ? '已完成' : '发送中'}：成功 ${s.sent} 人，失败 ${s.failed} 人`;
    if (s.done) return;
  }
}

async function renderMpHome(main) {
  const s = await run(() => api('/mp/home'));
  if (!s) return;
  const stat = (id, label, v) => h('div', { class: 'stat' }, h('span', { class: 'stat-label', text: label }), h('strong', { id, text: String(v) }));
  main.append(h('div', { class: 'stats' },
    stat('mp-fans-count', '粉丝数', s.fansCount), stat('mp-menu-count', '菜单项', s.menuCount),
    stat('mp-id', '公众号ID', s.userId)));
}

async function renderMpMenu(main) {
  const tree = await run(() => api('/mp/menuList'));
  if (!tree) return;
  function edit(entry, parentId = 0) {
    const name = h('input', { name: 'menu-name', value: entry?.name || '', maxLength: 16 });
    const url = h('input', { name: 'menu-url', value: entry?.url || '', placeholder: '网址（http 或 https 开头）' });
    const parent = h('select', { name: 'menu-parent' }, h('option', { value: 0, text: '（一级菜单）' }),
      tree.map((t) => h('option', { value: t.id, text: t.name, selected: String(t.id) === String(entry?.parentId ?? parentId) })));
    openModal(entry ? `编辑菜单：${entry.name}` : '添加菜单', h('div', { class: 'form-grid' },
      field('名称', name, '至多 16 个字'), field('链接', url), field('上级菜单', parent, '至多 3 个一级菜单，每个至多 5 个子菜单')), [{
      label: '保存',
      kind: 'primary',
      onclick: async () => {
        const r = await run(() => api('/mp/menu/save', { id: entry?.id, name: name.value.trim(), url: url.value.trim(), parentId: parent.value }));
        if (!r) return false;
        toast('菜单已保存');
        main.replaceChildren();
        await renderMpMenu(main);
        return true;
      },
    }]);
  }
  async function remove(entry) {
    if (!window.confirm(`确定删除菜单「${entry.name}」${entry.menuList?.length ? '及其子菜单' : ''}吗？`)) return;
    if (await run(() => api('/mp/menu/delete', { id: entry.id }))) toast('菜单已删除');
    main.replaceChildren();
    await renderMpMenu(main);
  }
  const row = (m, child) => h('tr', {},
    h('td', { text: child ? `└ ${m.name}` : m.name }), h('td', {}, h('code', { text: m.url })),
    h('td', {}, actions(btn('编辑', () => edit(m)), !child && btn('添加子菜单', () => edit(null, m.id)), btn('删除', () => remove(m), 'danger'))));
  main.append(
    toolbar(h('button', { type: 'button', class: 'primary', text: '添加菜单', onclick: () => edit(null) })),
    h('div', { class: 'table-wrap' }, h('table', { id: 'mp-menu-table' },
      h('thead', {}, h('tr', {}, ['名称', '链接', '操作'].map((t) => h('th', { text: t })))),
      h('tbody', {}, tree.length
        ? tree.map((t) => [row(t, false), (t.menuList || []).map((c) => row(c, true))])
        : h('tr', {}, h('td', { colSpan: 3, class: 'empty', text: '还没有菜单' }))))));
}

/** The conversation with one user, with a reply box. */
async function mpConversation(userId, nickname) {
  const body = h('div');
  async function show() {
    const rows = await run(() => api('/mp/msg/list', { toUserId: userId, pageSize: 50 }));
    if (!rows) return;
    const text = h('textarea', { id: 'mp-reply-text', rows: 2, placeholder: '回复内容' });
    body.replaceChildren(
      h('table', { class: 'compact', id: 'mp-conversation' },
        h('tbody', {}, rows.length ? rows.slice().reverse().map((m) => {
          let content = '';
          try { content = JSON.parse(m.body).content; } catch { content = m.content; }
          return h('tr', {}, h('td', { text: m.direction === 0 ? '公众号' : (nickname || String(userId)) }),
            h('td', { text: fmtTime(m.ts) }), h('td', {}, contentCell(content)));
        }) : h('tr', {}, h('td', { class: 'empty', text: '没有消息' })))),
      field('回复', text),
      btn('发送回复', async () => {
        if (!text.value.trim()) return toast('请填写回复内容', 'error');
        if (await run(() => api('/mp/msg/reply', { toUserId: userId, content: text.value.trim() }))) toast('已回复');
        await show();
        return undefined;
      }, 'primary'));
  }
  openModal(`与 ${nickname || userId} 的消息`, body);
  await show();
}

async function renderMpFans(main) {
  const table = pagedTable({
    id: 'mp-fans-table',
    empty: '还没有粉丝',
    columns: [
      { title: '用户ID', cell: (f) => String(f.userId) },
      { title: '昵称', cell: (f) => f.nickname || '' },
      { title: '关注时间', cell: (f) => fmtTime(f.createTime) },
      {
        title: '操作',
        cell: (f) => actions(
          btn('消息', () => mpConversation(f.userId, f.nickname)),
          btn('移除', async () => {
            if (!window.confirm(`确定移除粉丝「${f.nickname}」（${f.userId}）吗？`)) return;
            if (await run(() => api('/mp/fans/delete', { toUserId: f.userId }))) toast('已移除粉丝');
            table.reload();
          }, 'danger')),
      },
    ],
    load: mpPage('/mp/fans'),
  });
  main.append(table.node);
  await table.reload(1);
}

async function renderMpMessages(main) {
  const rows = await run(() => api('/mp/msg', { pageSize: 100 }));
  if (!rows) return;
  main.append(h('div', { class: 'table-wrap' }, h('table', { id: 'mp-msg-table' },
    h('thead', {}, h('tr', {}, ['用户', '最后一条', '时间', '操作'].map((t) => h('th', { text: t })))),
    h('tbody', {}, rows.length ? rows.map((c) => h('tr', {},
      h('td', { text: c.toUserName || c.fromUserName || c.jid }), h('td', {}, contentCell(c.content)),
      h('td', { text: fmtTime(c.timeSend) }),
      h('td', {}, btn('查看/回复', () => mpConversation(Number(c.jid), c.toUserName)))))
      : h('tr', {}, h('td', { colSpan: 4, class: 'empty', text: '没有会话' }))))));
}

async function renderMpMass(main) {
  const jobBox = h('p', { class: 'muted', id: 'mp-job' });
  const text = h('textarea', { id: 'mp-mass-text', rows: 3, placeholder: '发送给所有粉丝的文字' });
  const one = {
    title: h('input', { name: 'article-title' }), sub: h('input', { name: 'article-sub' }),
    img: h('input', { name: 'article-img', placeholder: '网址（http 或 https 开头）' }), url: h('input', { name: 'article-url', placeholder: '网址（http 或 https 开头）' }),
  };
  const many = h('div', { id: 'mp-articles' });
  const addArticle = () => many.append(h('div', { class: 'form-grid article' },
    field('标题', h('input', { name: 'many-title' })), field('图片', h('input', { name: 'many-img', placeholder: '网址（http 或 https 开头）' })),
    field('链接', h('input', { name: 'many-url', placeholder: '网址（http 或 https 开头）' }))));
  addArticle();
  addArticle();
  async function start(path, params, what) {
    if (!window.confirm(`确定向所有粉丝群发${what}吗？`)) return;
    const r = await run(() => api(path, params));
    if (r) await followJob(jobBox, r.jobId);
  }
  const values = (name) => [...many.querySelectorAll(`input[name="${name}"]`)].map((i) => i.value.trim());
  main.append(
    h('section', { class: 'card' }, h('h2', { text: '群发文字' }), field('内容', text),
      btn('群发文字', () => start('/mp/textToAll', { title: text.value.trim() }, '这段文字'), 'primary')),
    h('section', { class: 'card' }, h('h2', { text: '单条图文' }),
      h('div', { class: 'form-grid' }, field('标题', one.title), field('摘要', one.sub), field('图片', one.img), field('链接', one.url)),
      btn('群发单条图文', () => start('/mp/pushToAll', {
        title: one.title.value.trim(), sub: one.sub.value.trim(), img: one.img.value.trim(), url: one.url.value.trim(),
      }, '这条图文'), 'primary')),
    h('section', { class: 'card' }, h('h2', { text: '多条图文' }), many, btn('再加一篇', addArticle),
      btn('群发多条图文', () => start('/mp/manyToAll', {
        title: JSON.stringify(values('many-title')), img: JSON.stringify(values('many-img')), url: JSON.stringify(values('many-url')),
      }, '这些图文'), 'primary')),
    jobBox);
}

// ---- chat logs

function contentCell(text) {
  const s = String(text ?? '');
  return h('span', { class: 'msg-content', title: s, text: s.length > 120 ? `${s.slice(0, 120)}…` : s });
}

async function renderChats(main, opts = {}) {
  const single = h('button', { type: 'button', class: 'tab', text: '单聊记录', id: 'tab-single' });
  const group = h('button', { type: 'button', class: 'tab', text: '群聊记录', id: 'tab-group' });
  const pane = h('div');
  main.append(h('div', { class: 'tabs' }, single, group), pane);
  single.onclick = () => singleLogs();
  group.onclick = () => groupLogs(opts.roomJid || '');

  async function singleLogs() {
    single.classList.add('active');
    group.classList.remove('active');
    const sender = h('input', { id: 'chat-sender', type: 'number', placeholder: '发送者ID', class: 'narrow' });
    const receiver = h('input', { id: 'chat-receiver', type: 'number', placeholder: '接收者ID', class: 'narrow' });
    const kw = h('input', { id: 'chat-keyword', type: 'search', placeholder: '内容关键字' });
    const from = h('input', { type: 'datetime-local', title: '开始时间' });
    const to = h('input', { type: 'datetime-local', title: '结束时间' });
    const filters = () => ({
      sender: sender.value, receiver: receiver.value, keyWord: kw.value.trim(),
      startTime: inputMillis(from), endTime: inputMillis(to),
    });
    const table = pagedTable({
      id: 'chat-table',
      columns: [
        { title: '时间', cell: (m) => fmtTime(m.ts || m.timeSend) },
        { title: '发送者', cell: (m) => `${m.sender_nickname || ''}（${m.sender}）` },
        { title: '接收者', cell: (m) => `${m.receiver_nickname || ''}（${m.receiver}）` },
        { title: '类型', cell: (m) => msgType(m.contentType) },
        { title: '内容', cell: (m) => (m.isEncrypt ? h('em', { text: '（加密消息）' }) : contentCell(m.content)) },
        {
          title: '操作',
          cell: (m) => btn('删除', async () => {
            if (!window.confirm('确定删除这条消息（收发双方的记录）吗？')) return;
            if (await run(() => api('/console/deleteChatMsgs', { msgId: m._id }))) toast('已删除');
            table.reload();
          }, 'danger'),
        },
      ],
      limit: 20,
      load: (paging) => apiPage('/console/chat_logs_all', { ...paging, ...filters() }),
    });
    const delMatching = async () => {
      const f = filters();
      const any = Object.values(f).some((v) => v !== undefined && v !== '');
      const q = any ? '确定删除所有符合当前筛选条件的单聊消息吗？此操作无法恢复。' : '未设置任何筛选条件：确定删除全部单聊消息吗？此操作无法恢复。';
      if (!window.confirm(q)) return;
      const r = await run(() => api('/console/chat_logs_all/del', { ...f, all: any ? undefined : 1 }));
      if (r) toast(`已删除 ${r.deleted} 条消息`);
      table.reload(1);
    };
    pane.replaceChildren(
      toolbar(sender, receiver, kw, from, h('span', { text: '至' }), to,
        h('button', { type: 'submit', class: 'primary', id: 'chat-search', text: '查询', onclick: () => table.reload(1) }),
        h('button', { type: 'button', class: 'danger', text: '删除筛选结果', onclick: delMatching })),
      table.node);
    await table.reload(1);
  }

  async function groupLogs(jid) {
    group.classList.add('active');
    single.classList.remove('active');
    const rooms = await run(() => apiPage('/console/roomList', { page: 1, limit: 200 }));
    const room = h('select', { id: 'group-room' }, h('option', { value: '', text: '选择群组' }),
      (rooms?.rows || []).map((r) => h('option', { value: r.jid, text: `${r.name}（${r.userSize} 人）`, selected: r.jid === jid })));
    if (jid && !room.value) room.append(h('option', { value: jid, text: jid, selected: true }));
    const kw = h('input', { type: 'search', placeholder: '内容关键字' });
    const from = h('input', { type: 'datetime-local', title: '开始时间' });
    const to = h('input', { type: 'datetime-local', title: '结束时间' });
    const table = pagedTable({
      id: 'group-table',
      empty: '没有消息（请先选择群组）',
      columns: [
        { title: '时间', cell: (m) => fmtTime(m.ts || m.timeSend) },
        { title: '发送者', cell: (m) => `${m.fromUserName || m.nickname || ''}（${m.sender}）` },
        { title: '类型', cell: (m) => msgType(m.contentType) },
        { title: '内容', cell: (m) => (m.isEncrypt ? h('em', { text: '（加密消息）' }) : contentCell(m.content)) },
        {
          title: '操作',
          cell: (m) => btn('删除', async () => {
            if (!window.confirm('确定删除这条群消息吗？')) return;
            if (await run(() => api('/console/groupchat_logs_all/del', { room_jid_id: room.value, msgId: m._id }))) toast('已删除');
            table.reload();
          }, 'danger'),
        },
      ],
      limit: 20,
      load: (paging) => (room.value
        ? apiPage('/console/groupchat_logs_all', {
          room_jid_id: room.value, ...paging, keyWord: kw.value.trim(),
          startTime: inputMillis(from), endTime: inputMillis(to),
        })
        : Promise.resolve({ rows: [], count: 0 })),
    });
    room.onchange = () => table.reload(1);
    pane.replaceChildren(
      toolbar(room, kw, from, h('span', { text: '至' }), to,
        h('button', { type: 'submit', class: 'primary', text: '查询', onclick: () => table.reload(1) })),
      table.node);
    await table.reload(1);
  }

  if (opts.roomJid) await groupLogs(opts.roomJid);
  else await singleLogs();
}

// ---- send message / push to all

async function renderMessages(main) {
  const from = h('input', { id: 'msg-from', type: 'number', placeholder: '发送者用户ID', required: true });
  const to = h('input', { id: 'msg-to', type: 'number', placeholder: '接收者用户ID', required: true });
  const text = h('textarea', { id: 'msg-text', rows: 3, placeholder: '消息内容' });
  const sendResult = h('p', { class: 'muted', id: 'msg-result' });
  const pushFrom = h('input', { id: 'push-from', type: 'number', value: 10000, required: true });
  const pushText = h('textarea', { id: 'push-text', rows: 3, placeholder: '发送给所有用户的文字消息' });
  const jobBox = h('p', { class: 'muted', id: 'push-status' });

  async function send() {
    if (!from.value || !to.value || !text.value.trim()) return toast('请填写发送者、接收者和内容', 'error');
    const r = await run(() => api('/console/sendMessage', { from: from.value, to: to.value, body: text.value }));
    if (r) {
      sendResult.textContent = `已发送，消息ID ${r.messageId}`;
      text.value = '';
    }
    return undefined;
  }
  async function push() {
    if (!pushFrom.value || !pushText.value.trim()) return toast('请填写发送者和内容', 'error');
    if (!window.confirm('确定向所有用户群发这条消息吗？')) return undefined;
    const r = await run(() => api('/console/pushToAll', {
      fromUserId: pushFrom.value,
      body: JSON.stringify({ type: 1, content: pushText.value }),
    }));
    if (!r) return undefined;
    jobBox.textContent = `任务 ${r.jobId} 已开始…`;
    // The job runs in the background on the server; follow it until done (or the page changes).
    for (;;) {
      await new Promise((ok) => { setTimeout(ok, 1000); });
      if (!jobBox.isConnected) return undefined;
      const s = await run(() => api('/console/pushToAll/status', { jobId: r.jobId }));
      if (!s) return undefined;
      jobBox.textContent = `任务 ${s.jobId}：${s.done ? '已完成' : '发送中'}，成功 ${s.sent} 人，失败 ${s.failed} 人`;
      if (s.done) return undefined;
    }
  }
  main.append(
    h('section', { class: 'card' }, h('h2', { text: '发送单聊消息' }),
      h('div', { class: 'form-grid' }, field('发送者', from), field('接收者', to)),
      field('内容', text),
      h('button', { type: 'button', class: 'primary', text: '发送', onclick: send }), sendResult),
    h('section', { class: 'card' }, h('h2', { text: '群发消息（推送给所有用户）' }),
      field('发送者用户ID', pushFrom, '默认 10000（系统号）'),
      field('内容', pushText),
      h('button', { type: 'button', class: 'primary', text: '群发', onclick: push }), jobBox));
}

// ---- admins

function roleSelect(current = 5) {
  return h('select', {}, Object.entries(ROLE_NAMES).map(([v, l]) => h('option', { value: v, text: `${l} (${v})`, selected: Number(v) === current })));
}

async function renderAdmins(main) {
  const table = pagedTable({
    id: 'admin-table',
    columns: [
      { title: '用户ID', cell: (a) => String(a.userId) },
      { title: '昵称', cell: (a) => a.nickname || '—' },
      { title: '手机号', cell: (a) => a.telephone || '—' },
      { title: '角色', cell: (a) => ROLE_NAMES[a.role] || String(a.role) },
      { title: '状态', cell: (a) => h('span', { class: `badge ${a.status === -1 ? 'bad' : 'good'}`, text: a.status === -1 ? '已禁用' : '正常' }) },
      { title: '两步验证', cell: (a) => (a.totpEnabled ? '已开启' : '未开启') },
      { title: '最后登录', cell: (a) => fmtTime(a.lastLoginTime) },
      {
        title: '操作',
        cell: (a) => actions(
          btn('修改', () => modify(a)),
          btn('删除', async () => {
            if (!window.confirm(`确定取消「${a.nickname}」（${a.userId}）的管理员身份吗？该用户本身不会被删除。`)) return;
            if (await run(() => api('/console/delAdmin', { userId: a.userId }))) toast('已删除管理员');
            table.reload();
          }, 'danger')),
      },
    ],
    load: (paging) => apiPage('/console/adminList', paging),
  });
  function modify(a) {
    const role = roleSelect(a.role);
    const status = h('select', {}, h('option', { value: 1, text: '正常', selected: a.status !== -1 }), h('option', { value: -1, text: '禁用', selected: a.status === -1 }));
    openModal(`修改管理员：${a.nickname}（${a.userId}）`, h('div', { class: 'form-grid' }, field('角色', role), field('状态', status)), [{
      label: '保存',
      kind: 'primary',
      onclick: async () => {
        if (!(await run(() => api('/console/modifyAdmin', { userId: a.userId, role: role.value, status: status.value })))) return false;
        toast('已保存');
        table.reload();
        return true;
      },
    }]);
  }
  function add() {
    const phone = h('input', { inputMode: 'numeric' });
    const area = h('input', { value: '86', size: 4 });
    const role = roleSelect(5);
    const nickname = h('input');
    const password = h('input', { type: 'password', autocomplete: 'new-password' });
    openModal('添加管理员', h('div', { class: 'form-grid' },
      field('手机号', phone, '已注册用户的手机号，或新账号的手机号'), field('区号', area), field('角色', role),
      field('昵称', nickname, '仅新建账号时使用'), field('密码', password, '仅新建账号时需要')), [{
      label: '添加',
      kind: 'primary',
      onclick: async () => {
        if (!phone.value.trim()) {
          toast('请填写手机号', 'error');
          return false;
        }
        const r = await run(() => api('/console/addAdmin', {
          telephone: phone.value.trim(), areaCode: area.value.trim(), role: role.value,
          nickname: nickname.value.trim(), password: password.value,
        }));
        if (!r) return false;
        toast(`已添加管理员（用户ID ${r.userId}）`);
        table.reload(1);
        return true;
      },
    }]);
  }
  main.append(toolbar(h('button', { type: 'button', class: 'primary', text: '添加管理员', onclick: add })), table.node, totpCard());
  await table.reload(1);
}

/** The calling admin's own second factor: set up, enable or disable TOTP. */
function totpCard() {
  const box = h('section', { class: 'card' }, h('h2', { text: '我的两步验证（谷歌验证码）' }));
  const body = h('div');
  box.append(body);
  async function show() {
    const me = await run(() => api('/console/me'));
    if (!me) return;
    const code = h('input', { inputMode: 'numeric', maxLength: 6, placeholder: '6 位验证码', class: 'narrow' });
    if (me.totpEnabled) {
      body.replaceChildren(h('p', { text: '已开启：登录时需要输入验证器上的 6 位验证码。' }),
        h('div', { class: 'toolbar' }, code, btn('关闭两步验证', async () => {
          if (await run(() => api('/console/totp/disable', { code: code.value.trim() }))) toast('已关闭两步验证');
          show();
        }, 'danger')));
    } else {
      body.replaceChildren(h('p', { text: '未开启。开启后登录需要额外输入验证器（如 Google Authenticator）上的验证码。' }),
        btn('获取密钥', async () => {
          const s = await run(() => api('/console/totp/setup'));
          if (!s) return;
          body.replaceChildren(
            h('p', { text: '在验证器中手动添加以下密钥（或使用下面的 otpauth 链接），然后输入验证器显示的验证码：' }),
            h('p', {}, h('code', { class: 'secret', text: s.secret })),
            h('p', { class: 'muted' }, h('code', { text: s.otpauthUrl })),
            h('div', { class: 'toolbar' }, code, btn('确认开启', async () => {
              if (await run(() => api('/console/totp/enable', { code: code.value.trim() }))) toast('两步验证已开启');
              show();
            }, 'primary')));
        }, 'primary'));
    }
  }
  show();
  return box;
}

// ---- configuration

async function renderConfig(main) {
  const c = await run(() => api('/console/config'));
  if (!c) return;
  const overridden = new Set(c.overridden);
  const inputs = {};
  const rows = Object.entries(c.values).map(([k, v]) => {
    const input = h('input', { value: typeof v === 'object' ? JSON.stringify(v) : String(v), dataset: { key: k } });
    inputs[k] = { input, initial: input.value };
    return h('tr', {},
      h('td', {}, h('code', { text: k })),
      h('td', {}, input),
      h('td', {}, overridden.has(k)
        ? h('span', { class: 'badge on', text: '后台已修改' })
        : h('span', { class: 'muted', text: '配置文件' })),
      h('td', {}, overridden.has(k) ? btn('恢复默认', () => save({ [k]: '-' })) : ''));
  });
  async function save(changes) {
    if (!Object.keys(changes).length) return toast('没有修改', 'error');
    const r = await run(() => api('/console/config/set', changes));
    if (r) {
      toast('配置已保存并立即生效');
      main.replaceChildren();
      await renderConfig(main);
    }
    return undefined;
  }
  async function checkXmpp() {
    const r = await run(() => api('/console/addAllUser'));
    if (r) toast(`${r.userCount} 个用户均可直接用 XMPP 登录，无需同步到 Tigase`);
  }
  main.append(
    toolbar(btn('同步 XMPP 账号', checkXmpp)),
    h('p', { class: 'muted', text: '这些是客户端从 /config 读取的参数（含原 clientConfig 的参数）。修改保存在数据库中，无需重启即生效；“恢复默认”使用配置文件中的值。' }),
    h('div', { class: 'table-wrap' }, h('table', { id: 'config-table' },
      h('thead', {}, h('tr', {}, ['参数', '当前值', '来源', ''].map((t) => h('th', { text: t })))),
      h('tbody', {}, rows))),
    h('div', { class: 'toolbar' }, h('button', {
      type: 'button',
      class: 'primary',
      text: '保存修改',
      onclick: () => save(Object.fromEntries(Object.entries(inputs)
        .filter(([, x]) => x.input.value !== x.initial)
        .map(([k, x]) => [k, x.input.value]))),
    })));
}

// ---- login protection

/** Accounts and addresses the login limiter counts failed password attempts for. */
async function renderLoginBlocks(main) {
  const rows = await run(() => api('/console/loginBlocks'));
  if (!rows) return;
  async function clear(params, done) {
    const r = await run(() => api('/console/loginBlocks/clear', params));
    if (r) {
      toast(done);
      main.replaceChildren();
      await renderLoginBlocks(main);
    }
  }
  const body = rows.length
    ? rows.map((b) => h('tr', {},
      h('td', {}, h('code', { text: b.key })),
      h('td', { text: b.userId == null ? '' : String(b.userId) }),
      h('td', { text: String(b.failures) }),
      h('td', {}, b.blocked
        ? h('span', { class: 'badge bad', text: `限制中（${b.retrySecs} 秒）` })
        : h('span', { class: 'muted', text: '未限制' })),
      h('td', { text: `${b.lastSecsAgo} 秒前` }),
      h('td', {}, btn('解除', () => clear({ key: b.key }, '已解除')))))
    : [h('tr', {}, h('td', { colspan: 6, class: 'muted', text: '没有失败的登录尝试' }))];
  main.append(
    h('p', { class: 'muted', text: '密码连续错误后，账号或来源地址的下一次尝试需等待逐次加倍的时间（自动结束，不会永久锁定）。此处可提前解除。' }),
    h('div', { class: 'table-wrap' }, h('table', { id: 'login-blocks' },
      h('thead', {}, h('tr', {}, ['对象', '用户ID', '失败次数', '状态', '最近一次', ''].map((t) => h('th', { text: t })))),
      h('tbody', {}, body))),
    toolbar(btn('全部解除', () => clear({}, '已全部解除'), 'danger')));
}

// ---------------------------------------------------------------- navigation and login

let current = null;

/** Shows screen `name` (rebuilt from the API each time). */
async function show(name, opts) {
  const home = area() === 'mp' ? 'mp-home' : 'dashboard';
  const screen = screens[name] && areaOf(name) === area() ? name : home;
  current = screen;
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.view === screen);
  $('#screen-title').textContent = screens[screen].title;
  const main = $('#main');
  main.replaceChildren();
  main.dataset.screen = screen;
  $('#toast').hidden = true;
  if (location.hash !== `#${screen}`) history.replaceState(null, '', `#${screen}`);
  await screens[screen].render(main, opts);
}

function showLogin(message) {
  $('#app-view').hidden = true;
  $('#login-view').hidden = false;
  if ($('#modal').open) $('#modal').close();
  $('#toast').hidden = true;
  $('#login-error').textContent = message || '';
  $('#login-account').focus();
}

async function enterApp() {
  const mp = area() === 'mp';
  const me = await run(() => api(mp ? '/mp/home' : '/console/me'));
  if (!me) return;
  $('#whoami').textContent = mp ? `${me.nickname}（公众号）` : `${me.nickname}（${ROLE_NAMES[me.role] || me.role}）`;
  // Each back office shows only its own screens.
  for (const b of document.querySelectorAll('nav button')) b.hidden = areaOf(b.dataset.view) !== area();
  $('.brand').textContent = mp ? 'Shiku 公众号后台' : 'Shiku 管理后台';
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  await show(location.hash.slice(1) || (mp ? 'mp-home' : 'dashboard'));
}

async function login(ev) {
  ev.preventDefault();
  const err = $('#login-error');
  err.textContent = '';
  const account = $('#login-account').value.trim();
  const password = $('#login-password').value;
  if (!account || !password) {
    err.textContent = '请输入手机号和密码';
    return;
  }
  const submit = $('#login-submit');
  submit.disabled = true;
  try {
    const mp = $('#login-mp').checked;
    const d = mp
      ? await api('/mp/login', { username: account, password: md5(password), areaCode: $('#login-area').value.trim() || '86' })
      : await api('/console/login', {
        account,
        password: md5(password),
        areaCode: $('#login-area').value.trim() || '86',
        googlecode: $('#login-code').value.trim(),
      });
    setToken(d.access_token);
    setArea(mp ? 'mp' : 'console');
    $('#login-password').value = '';
    $('#login-code').value = '';
    $('#totp-row').hidden = true;
    await enterApp();
  } catch (e) {
    // The server asks for the TOTP code (or says it was wrong) with a plain failure message.
    if (/googlecode|谷歌验证/.test(e.message)) {
      $('#totp-row').hidden = false;
      $('#login-code').focus();
    }
    err.textContent = e.message;
  } finally {
    submit.disabled = false;
  }
}

async function logout() {
  // Revoke the session on the server; the page forgets the token either way.
  try { await api(area() === 'mp' ? '/mp/logout' : '/console/logout'); } catch { /* already gone */ }
  setToken(null);
  showLogin('已退出登录');
}

function init() {
  whenSessionEnds(showLogin);
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  // A message shown inside the dialog (see toast) stays readable after the dialog closes.
  $('#modal').addEventListener('close', () => document.body.append($('#toast')));
  for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => show(b.dataset.view));
  window.addEventListener('hashchange', () => {
    const name = location.hash.slice(1);
    if (token() && screens[name] && areaOf(name) === area() && name !== current) show(name);
  });
  if (token()) enterApp();
  else showLogin();
}

init();
