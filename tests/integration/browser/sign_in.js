// sign_in.js — a person at a browser, for the CLI's OIDC tests: headless
// Chromium (Debian's, driven by npm playwright-core) opens the provider's
// authorisation URL, signs a user in on oidc-provider's development login
// form, consents when asked, and follows the redirect to wherever the
// provider sends it (the CLI's callback listener).
//
//   node sign_in.js URL USER
//
// Prints "PAGE <title>" and "TEXT <body text>" of the page the redirect
// ends on, and exits 0; exits 1 with the reason on stderr otherwise.
// CHROMIUM overrides /usr/bin/chromium.
const path = require('path');

const { chromium } = require(path.join(__dirname, '..', 'node', 'node_modules', 'playwright-core'));

async function main() {
  const [url, user] = process.argv.slice(2);
  if (!url || !user) throw new Error('usage: node sign_in.js URL USER');
  const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20000);
    await page.goto(url);
    for (let step = 0; step < 4; step++) {
      if (await page.locator('input[name="login"]').count()) {
        await page.fill('input[name="login"]', user);
        await page.fill('input[name="password"]', 'any');
        await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
      } else if (await page.locator('input[name="prompt"][value="consent"], button[autofocus]').count()) {
        await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
      } else {
        break;
      }
    }
    process.stdout.write(`PAGE ${await page.title()}\n`);
    process.stdout.write(`TEXT ${(await page.innerText('body')).replace(/\s+/g, ' ')}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
