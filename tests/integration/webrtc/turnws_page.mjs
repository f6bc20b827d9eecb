// Loads docs/examples/turn-ws.html in headless Chromium and prints what the
// page's TURN-over-WebSocket client did (window.turnResult) as JSON.
//
//   node turnws_page.mjs PAGE_URL
//
// Exits 0 when the page reports ok, 1 otherwise. Certificates are checked
// as usual: the test CA must be in the NSS database under $HOME/.pki/nssdb
// (turn_ws_page.sh puts it there); no check is switched off.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { quietFlags } from './chromium_flags.mjs';

const pageUrl = process.argv[2];
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!pageUrl) {
	console.error('usage: node turnws_page.mjs PAGE_URL');
	process.exit(2);
}
if (!existsSync(executablePath)) {
	console.error(`${executablePath} not found: apt-get install chromium (scripts/setup.sh does)`);
	process.exit(2);
}
let chromium;
try {
	({ chromium } = await import('playwright-core'));
} catch (e) {
	console.error('playwright-core is not installed: run `npm ci` in tests/integration/webrtc ' +
		`(scripts/setup.sh does): ${e.message}`);
	process.exit(2);
}

// The flags are webrtc.mjs's (see there why): no sandbox as root, and no
// background traffic; only loopback names resolve.
const args = [
	...quietFlags,
	'--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

const userDataDir = mkdtempSync(join(tmpdir(), 'turnws-page-'));
let context, result = { ok: false, error: 'the page did not finish' };
try {
	context = await chromium.launchPersistentContext(userDataDir, {
		executablePath, headless: true, args, timeout: 60000,
	});
	const page = context.pages()[0] || await context.newPage();
	page.on('console', (m) => console.log('page: ' + m.text()));
	await page.goto(pageUrl);
	await page.waitForFunction(() => window.turnResult !== null, null, { timeout: 30000 });
	result = await page.evaluate(() => window.turnResult);
	console.log('page log:\n' + await page.evaluate(() => document.getElementById('log').textContent));
} catch (e) {
	result = { ok: false, error: String(e.message || e) };
} finally {
	if (context)
		await context.close().catch(() => {});
	rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
