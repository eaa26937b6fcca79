// Drives the web console in Debian's headless Chromium (playwright-core, no bundled browser):
// logs in, reads the dashboard, searches a user and locks them, dissolves a room and reads a
// chat log. Run by tests/console_browser.rs against a server it started; settings come from the
// environment (below). Prints one JSON line {ok, steps, …} and exits 0 only when every step held;
// screenshots go to SHIKU_ARTIFACTS.

import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.log(JSON.stringify({ ok: false, error: `missing environment variable ${name}` }));
    process.exit(2);
  }
  return v;
}

const base = need('SHIKU_URL').replace(/\/$/, '');
const adminPhone = need('SHIKU_ADMIN_PHONE');
const adminPassword = need('SHIKU_ADMIN_PASSWORD');
const userPhone = need('SHIKU_USER_PHONE');
const userId = need('SHIKU_USER_ID');
const roomName = need('SHIKU_ROOM_NAME');
const chatSender = need('SHIKU_CHAT_SENDER');
const chatText = need('SHIKU_CHAT_TEXT');
const memberId = need('SHIKU_MEMBER_ID');
const senderPhone = need('SHIKU_SENDER_PHONE');
const friendId = need('SHIKU_FRIEND_ID');
const mpPhone = need('SHIKU_MP_PHONE');
const mpPassword = need('SHIKU_MP_PASSWORD');
const mpText = need('SHIKU_MP_TEXT');
const artifacts = need('SHIKU_ARTIFACTS');
const executablePath = process.env.SHIKU_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 15000;

mkdirSync(artifacts, { recursive: true });
const steps = [];
const problems = [];
const shots = [];

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
  ],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 800 }, locale: 'zh-CN' });
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT);
// Console errors (a CSP violation, a failed module, an uncaught exception) fail the run.
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
// Nothing may leave this origin (no CDN): record any request elsewhere.
page.on('request', (r) => {
  if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`foreign request: ${r.url()}`);
});
// Confirmations are native dialogs; the operator says yes, and we check what was asked.
const confirms = [];
page.on('dialog', async (d) => { confirms.push(d.message()); await d.accept(); });

/** RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret for 30-second step `step`. */
function totp(secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1e6).padStart(6, '0');
}
const nowStep = () => Math.floor(Date.now() / 30000);

async function shot(name) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
}

async function step(name, fn) {
  await fn();
  steps.push(name);
}

/** Waits until the toast says `text` (the answer to the last action). */
async function toastSays(text) {
  await page.locator('#toast', { hasText: text }).waitFor({ state: 'visible' });
}

let result;
try {
  await step('redirect', async () => {
    await page.goto(`${base}/console/`);
    if (!page.url().startsWith(`${base}/pages/console/`)) throw new Error(`/console/ led to ${page.url()}`);
    await page.locator('#login-form').waitFor({ state: 'visible' });
  });

  await step('wrong password refused', async () => {
    await page.fill('#login-account', adminPhone);
    await page.fill('#login-password', `${adminPassword}-wrong`);
    await page.click('#login-submit');
    await page.locator('#login-error', { hasText: '密码错误' }).waitFor();
  });

  await step('login', async () => {
    await page.fill('#login-password', adminPassword);
    await page.click('#login-submit');
    await page.locator('#app-view').waitFor({ state: 'visible' });
    const token = await page.evaluate(() => sessionStorage.getItem('shiku.console.token'));
    if (!token) throw new Error('no console token in sessionStorage');
  });

  await step('dashboard', async () => {
    await page.locator('#screen-title', { hasText: '数据概览' }).waitFor();
    await page.waitForFunction(() => /^\d+$/.test(document.querySelector('#stat-users')?.textContent ?? ''));
    await page.locator('#online-chart svg.chart').waitFor();
    const users = Number(await page.textContent('#stat-users'));
    const rooms = Number(await page.textContent('#stat-rooms'));
    const messages = Number(await page.textContent('#stat-messages'));
    if (users < 3 || rooms < 1 || messages < 1) throw new Error(`dashboard numbers ${users}/${rooms}/${messages}`);
    // The server sampled the online count when it started: the offline count is shown.
    await page.locator('#online-note', { hasText: '离线' }).waitFor();
    await shot('dashboard');
  });

  await step('search user', async () => {
    await page.click('nav button[data-view="users"]');
    await page.fill('#user-keyword', userPhone);
    await page.click('#user-search');
    // The unfiltered list (loaded when the screen opened) also holds the row: wait for the
    // filtered answer, a single row.
    try {
      await page.waitForFunction(
        (phone) => {
          const rows = document.querySelectorAll('#user-table tbody tr');
          return rows.length === 1 && rows[0].textContent.includes(phone);
        },
        userPhone,
        { timeout: 10000 },
      );
    } catch {
      const rows = await page.locator('#user-table tbody tr').count();
      throw new Error(`search for ${userPhone} showed ${rows} rows`);
    }
    await shot('users');
  });

  await step('create user', async () => {
    await page.getByRole('button', { name: '新建用户' }).click();
    await page.fill('#modal input[name="telephone"]', '13599990000');
    await page.fill('#modal input[name="nickname"]', '新用户');
    await page.fill('#modal input[name="password"]', 'new-user-pw');
    await page.locator('#modal-actions').getByRole('button', { name: '保存' }).click();
    await toastSays('已创建用户');
    await page.locator('#user-table tbody tr', { hasText: '13599990000' }).waitFor();
    await page.fill('#user-keyword', userPhone);
    await page.click('#user-search');
    await page.locator('#user-table tbody tr', { hasText: '13599990000' }).waitFor({ state: 'detached' });
  });

  await step('lock user', async () => {
    const row = page.locator('#user-table tbody tr', { hasText: userPhone });
    await row.getByRole('button', { name: '锁定' }).click();
    await toastSays('已锁定');
    await row.locator('.badge', { hasText: '已锁定' }).waitFor();
    await row.getByRole('button', { name: '解锁' }).waitFor();
    if (!confirms.some((c) => c.includes(userId))) throw new Error(`no confirmation named ${userId}: ${confirms}`);
  });

  await step('view user', async () => {
    const row = page.locator('#user-table tbody tr', { hasText: userPhone });
    await row.getByRole('button', { name: '查看' }).click();
    await page.locator('#modal .details', { hasText: '已锁定' }).waitFor();
    await page.locator('#modal-actions').getByRole('button', { name: '关闭' }).click();
  });

  await step('dissolve room', async () => {
    await page.click('nav button[data-view="rooms"]');
    await page.fill('#room-keyword', roomName);
    await page.click('#room-search');
    const row = page.locator('#room-table tbody tr', { hasText: roomName });
    await row.waitFor();
    await row.getByRole('button', { name: '成员' }).click();
    const member = page.locator('#modal table tbody tr', { hasText: memberId });
    await member.waitFor();
    await shot('room-members');
    // Remove a member, then invite them back.
    await member.getByRole('button', { name: '移出群' }).click();
    await toastSays('已移出');
    await member.waitFor({ state: 'detached' });
    await page.fill('#invite-ids', memberId);
    await page.getByRole('button', { name: '邀请入群' }).click();
    await toastSays('已邀请 1 人入群');
    await member.waitFor();
    await page.locator('#modal-actions').getByRole('button', { name: '关闭' }).click();
    await row.getByRole('button', { name: '解散' }).click();
    await toastSays('已解散');
    await page.locator('#room-table td.empty').waitFor();
    await shot('rooms');
  });

  await step('read chat log', async () => {
    await page.click('nav button[data-view="chats"]');
    await page.fill('#chat-sender', chatSender);
    await page.click('#chat-search');
    await page.locator('#chat-table tbody tr', { hasText: chatText }).waitFor();
    await shot('chat-logs');
  });

  await step('send message', async () => {
    await page.click('nav button[data-view="messages"]');
    await page.fill('#msg-from', chatSender);
    await page.fill('#msg-to', memberId);
    await page.fill('#msg-text', '来自管理后台的消息');
    await page.getByRole('button', { name: '发送', exact: true }).click();
    await page.locator('#msg-result', { hasText: '已发送' }).waitFor();
  });

  await step('push to all', async () => {
    await page.fill('#push-text', '系统通知：今晚维护');
    await page.getByRole('button', { name: '群发', exact: true }).click();
    await page.locator('#push-status', { hasText: '已完成' }).waitFor({ timeout: 30000 });
  });

  await step('set config', async () => {
    await page.click('nav button[data-view="config"]');
    await page.fill('#config-table input[data-key="companyName"]', '浏览器测试公司');
    await page.getByRole('button', { name: '保存修改' }).click();
    await toastSays('配置已保存');
    await page.locator('#config-table tr', { hasText: 'companyName' }).locator('.badge', { hasText: '后台已修改' }).waitFor();
    await page.getByRole('button', { name: '同步 XMPP 账号' }).click();
    await toastSays('均可直接用 XMPP 登录');
  });

  await step('user relations', async () => {
    await page.click('nav button[data-view="users"]');
    await page.fill('#user-keyword', senderPhone);
    await page.click('#user-search');
    const row = page.locator('#user-table tbody tr', { hasText: senderPhone });
    await page.waitForFunction(() => document.querySelectorAll('#user-table tbody tr').length === 1);
    await row.getByRole('button', { name: '好友' }).click();
    const rel = page.locator('#relation-table tbody tr', { hasText: friendId });
    await rel.waitFor();
    await rel.getByRole('button', { name: '拉黑' }).click();
    await toastSays('已拉黑');
    await rel.getByRole('button', { name: '取消拉黑' }).click();
    await toastSays('已取消拉黑');
    await shot('relations');
    await rel.getByRole('button', { name: '解除好友' }).click();
    await toastSays('已解除好友关系');
    await page.locator('#relation-table tbody tr', { hasText: friendId }).locator('td', { hasText: '好友' }).waitFor({ state: 'detached' });
    await page.locator('#modal-actions').getByRole('button', { name: '关闭' }).click();
  });

  await step('create room', async () => {
    await page.click('nav button[data-view="rooms"]');
    await page.getByRole('button', { name: '新建群' }).click();
    await page.fill('#modal input[name="owner"]', chatSender);
    await page.fill('#modal input[name="room-name"]', '后台新建群');
    await page.fill('#modal input[name="member-ids"]', memberId);
    await page.locator('#modal-actions').getByRole('button', { name: '创建' }).click();
    await toastSays('已创建群');
    await page.locator('#room-table tbody tr', { hasText: '后台新建群' }).waitFor();
  });

  await step('review reports', async () => {
    await page.click('nav button[data-view="reports"]');
    const row = page.locator('#report-table tbody tr', { hasText: memberId });
    await row.waitFor();
    await shot('reports');
    await row.getByRole('button', { name: '锁定用户' }).click();
    await toastSays('已处理 1 条举报');
    await page.locator('#report-table td.empty').waitFor();
    await page.selectOption('#report-status', '1');
    await page.locator('#report-table tbody tr', { hasText: '已锁定' }).waitFor();
  });

  await step('public account', async () => {
    // A public account logs in to its own back office from the same page.
    await page.click('#logout');
    await page.fill('#login-account', mpPhone);
    await page.fill('#login-password', mpPassword);
    await page.check('#login-mp');
    await page.click('#login-submit');
    await page.locator('#screen-title', { hasText: '公众号主页' }).waitFor();
    await page.locator('#mp-fans-count', { hasText: '1' }).waitFor();
    if (await page.locator('nav button[data-view="users"]').isVisible()) throw new Error('admin screens shown to a public account');
    await page.click('nav button[data-view="mp-menu"]');
    await page.getByRole('button', { name: '添加菜单' }).click();
    await page.fill('#modal input[name="menu-name"]', '官网');
    await page.fill('#modal input[name="menu-url"]', 'https://example.com');
    await page.locator('#modal-actions').getByRole('button', { name: '保存' }).click();
    await toastSays('菜单已保存');
    await page.locator('#mp-menu-table tbody tr', { hasText: '官网' }).waitFor();
    await shot('mp-menu');
    await page.click('nav button[data-view="mp-fans"]');
    await page.locator('#mp-fans-table tbody tr', { hasText: chatSender }).waitFor();
    await page.click('nav button[data-view="mp-mass"]');
    await page.fill('#mp-mass-text', mpText);
    await page.getByRole('button', { name: '群发文字' }).click();
    await page.locator('#mp-job', { hasText: '已完成：成功 1 人' }).waitFor({ timeout: 30000 });
    await shot('mp-mass');
    await page.click('nav button[data-view="mp-msgs"]');
    await page.locator('#mp-msg-table tbody tr', { hasText: mpText }).waitFor();
    await page.click('#logout');
    await page.locator('#login-form').waitFor({ state: 'visible' });
    // Back to the admin console for the steps after.
    await page.uncheck('#login-mp');
    await page.fill('#login-account', adminPhone);
    await page.fill('#login-password', adminPassword);
    await page.click('#login-submit');
    await page.locator('#screen-title', { hasText: '数据概览' }).waitFor();
  });

  await step('every screen renders', async () => {
    for (const [view, selector] of [['messages', '#push-text'], ['admins', '#admin-table tbody tr'], ['config', '#config-table tbody tr'], ['logins', '#login-blocks tbody tr']]) {
      await page.click(`nav button[data-view="${view}"]`);
      await page.locator(selector).first().waitFor();
      await shot(view);
    }
  });

  await step('totp login', async () => {
    // Turn the second factor on from the admins screen, then log in again with it.
    await page.click('nav button[data-view="admins"]');
    await page.getByRole('button', { name: '获取密钥' }).click();
    const secret = (await page.locator('code.secret').textContent()).trim();
    const enabledAt = nowStep();
    await page.getByPlaceholder('6 位验证码').fill(totp(secret, enabledAt));
    await page.getByRole('button', { name: '确认开启' }).click();
    await toastSays('两步验证已开启');
    await page.click('#logout');
    await page.fill('#login-account', adminPhone);
    await page.fill('#login-password', adminPassword);
    await page.click('#login-submit');
    await page.locator('#totp-row').waitFor({ state: 'visible' });
    await page.locator('#login-error', { hasText: '谷歌验证码' }).waitFor();
    await shot('login-totp');
    // A code is good once: the next step's code (accepted one step early) if this one was used.
    await page.fill('#login-code', totp(secret, Math.max(nowStep(), enabledAt + 1)));
    await page.click('#login-submit');
    await page.locator('#app-view').waitFor({ state: 'visible' });
  });

  await step('logout', async () => {
    await page.click('#logout');
    await page.locator('#login-form').waitFor({ state: 'visible' });
    const token = await page.evaluate(() => sessionStorage.getItem('shiku.console.token'));
    if (token) throw new Error('token kept after logout');
  });

  await step('expired session returns to login', async () => {
    // A token the server refuses (1030102) sends the operator back to the login form.
    await page.evaluate(() => sessionStorage.setItem('shiku.console.token', 'not-a-valid-token'));
    await page.reload();
    await page.locator('#login-error', { hasText: '登录已过期' }).waitFor();
    if (await page.evaluate(() => sessionStorage.getItem('shiku.console.token'))) throw new Error('refused token kept');
  });

  if (problems.length) throw new Error(problems.join('; '));
  result = { ok: true, steps, screenshots: shots, confirms };
} catch (e) {
  try { await shot('failure'); } catch { /* the page may be gone */ }
  result = { ok: false, steps, error: String(e?.message ?? e), problems, screenshots: shots };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
