// Chromium's data channel through twist-relay's fast path (docs/fastpath.md),
// in fastpath.sh's veth lab.
//
// Two browsers, one per side of the relay:
//   A  runs where this script runs (the client namespace), relay-only ICE
//      through turn:HOST:PORT?transport=udp;
//   B  is started through --peer-chromium (a wrapper that runs Chromium in
//      the peer namespace) with no ICE server: its host candidate is the
//      peer address, so A's channel has a peer that is not the relay's own
//      address and takes the fast path. (Two relayed peers on one relay
//      would send to the relay's own addresses, which the fast path leaves
//      to user space.)
// Signalling goes through this script, without trickle: each side's
// description is read once its gathering is complete.
//
// Pass: every message arrives in order, A's selected pair is relay -> host
// and B's host -> relay. fastpath.sh checks that the program carried them.
//
// Usage: node fastpath.mjs --host 203.0.113.1 --port 3478 --peer-chromium PATH
//                          [--user demo] [--password demo] [--count 200]
//                          [--timeout 120]
// Exit status: 0 all delivered, 1 test failure, 2 usage or environment error.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { quietFlags } from './chromium_flags.mjs';

const log = (...a) => console.log('[fastpath-webrtc]', ...a);

function usage(msg) {
	console.error(`[fastpath-webrtc] ERROR: ${msg}`);
	process.exit(2);
}

let opts;
try {
	opts = parseArgs({
		options: {
			host: { type: 'string' },
			port: { type: 'string', default: '3478' },
			user: { type: 'string', default: 'demo' },
			password: { type: 'string', default: 'demo' },
			count: { type: 'string', default: '200' },
			timeout: { type: 'string', default: '120' },
			'peer-chromium': { type: 'string' },
		},
	}).values;
} catch (e) {
	usage(e.message);
}
const count = Number(opts.count);
const timeoutSec = Number(opts.timeout);
if (!opts.host) usage('--host is required');
if (!opts['peer-chromium'] || !existsSync(opts['peer-chromium'])) usage('--peer-chromium PATH is required');
if (!Number.isInteger(count) || count < 1 || count > 100000) usage('--count must be 1..100000');
if (!(timeoutSec > 0 && timeoutSec <= 600)) usage('--timeout must be 1..600 seconds');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromiumPath)) usage(`${chromiumPath} not found: apt-get install chromium`);

let chromium;
try {
	({ chromium } = await import('playwright-core'));
} catch (e) {
	usage(`playwright-core is not installed: run 'npm ci' in tests/integration/webrtc: ${e.message}`);
}

// No name lookups, no mDNS names for host candidates (B's must be its
// address); chromium_flags.mjs for the rest.
const args = [
	...quietFlags,
	'--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,DialMediaRouteProvider,OptimizationHints,Translate',
	'--host-resolver-rules=MAP * ~NOTFOUND',
];
const turnUrl = `turn:${opts.host}:${opts.port}?transport=udp`;
const budget = timeoutSec * 1000;

// In the pages: one RTCPeerConnection each, kept on window between calls.
// Each function returns plain data and throws only Errors with a message.
// The offer (no cfg.sdp: this side opens the channel) or the answer to
// cfg.sdp (this side receives), once gathering is complete.
async function pageDescribe(cfg) {
	const pc = new RTCPeerConnection(cfg.rtc);
	window.pc = pc;
	if (!cfg.sdp) {
		window.tx = pc.createDataChannel('twist', { ordered: true });
		await pc.setLocalDescription(await pc.createOffer());
	} else {
		window.received = [];
		pc.ondatachannel = (e) => {
			e.channel.onmessage = (m) => window.received.push(m.data);
		};
		await pc.setRemoteDescription({ type: 'offer', sdp: cfg.sdp });
		await pc.setLocalDescription(await pc.createAnswer());
	}
	const end = Date.now() + cfg.ms;
	while (pc.iceGatheringState !== 'complete' && Date.now() < end)
		await new Promise((r) => setTimeout(r, 20));
	return pc.localDescription.sdp;
}

async function pageSend(cfg) {
	const wait = async (what, pred) => {
		const end = Date.now() + cfg.ms;
		while (!pred()) {
			if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
			await new Promise((r) => setTimeout(r, 20));
		}
	};
	await window.pc.setRemoteDescription({ type: 'answer', sdp: cfg.sdp });
	await wait('the data channel to open', () => window.tx.readyState === 'open');
	for (let i = 0; i < cfg.count; i++) {
		if (window.tx.bufferedAmount > 262144)
			await wait('the send buffer to drain', () => window.tx.bufferedAmount < 65536);
		window.tx.send(`${i}:${'fast'.repeat(1 + (i % 50))}`);
	}
}

async function pageReceived(cfg) {
	const end = Date.now() + cfg.ms;
	while (window.received.length < cfg.count && Date.now() < end)
		await new Promise((r) => setTimeout(r, 20));
	return window.received;
}

// The selected pair as "local type -> remote type (addresses)".
async function pagePair() {
	const stats = await window.pc.getStats();
	const byId = new Map();
	let pair = null;
	stats.forEach((s) => byId.set(s.id, s));
	stats.forEach((s) => {
		if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
	});
	if (!pair) return { text: 'none' };
	const l = byId.get(pair.localCandidateId) || {};
	const r = byId.get(pair.remoteCandidateId) || {};
	return {
		local: l.candidateType,
		remote: r.candidateType,
		text: `${l.candidateType} ${l.address}:${l.port} -> ${r.candidateType} ${r.address}:${r.port}`,
	};
}

const dirs = [];
const contexts = [];
async function launch(name, executablePath) {
	const dir = mkdtempSync(join(tmpdir(), `twist-fp-webrtc-${name}-`));
	dirs.push(dir);
	const ctx = await chromium.launchPersistentContext(dir, {
		executablePath, headless: true, args, timeout: 60000,
	});
	contexts.push(ctx);
	const page = ctx.pages()[0] || (await ctx.newPage());
	page.on('console', (m) => log(`${name} console: ${m.text()}`));
	await page.goto('about:blank');
	return page;
}

async function cleanup() {
	for (const c of contexts) await c.close().catch(() => {});
	for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

const watchdog = setTimeout(() => {
	console.error(`[fastpath-webrtc] FAIL: overall timeout of ${timeoutSec + 60} s`);
	cleanup().finally(() => process.exit(1));
}, (timeoutSec + 60) * 1000);

let exitCode = 1;
try {
	log(`A: relay-only through ${turnUrl}; B: ${opts['peer-chromium']}, host candidates; ${count} messages`);
	const a = await launch('A', chromiumPath);
	const b = await launch('B', opts['peer-chromium']);
	const rtcA = {
		iceServers: [{ urls: [turnUrl], username: opts.user, credential: opts.password }],
		iceTransportPolicy: 'relay',
	};
	const offer = await a.evaluate(pageDescribe, { rtc: rtcA, ms: budget / 4 });
	const answer = await b.evaluate(pageDescribe, { rtc: { iceServers: [] }, sdp: offer, ms: budget / 4 });
	const cand = (sdp) => sdp.split('\n').filter((l) => l.startsWith('a=candidate')).map((l) => l.trim());
	log(`A candidates: ${JSON.stringify(cand(offer))}`);
	log(`B candidates: ${JSON.stringify(cand(answer))}`);
	await a.evaluate(pageSend, { sdp: answer, count, ms: budget / 2 });
	const got = await b.evaluate(pageReceived, { count, ms: budget / 2 });
	const pa = await a.evaluate(pagePair);
	const pb = await b.evaluate(pagePair);
	log(`A selected pair: ${pa.text}; B selected pair: ${pb.text}`);
	let bad = got.findIndex((m, i) => m !== `${i}:${'fast'.repeat(1 + (i % 50))}`);
	if (got.length !== count) bad = Math.max(bad, got.length);
	if (bad >= 0) {
		console.error(`[fastpath-webrtc] FAIL: ${got.length}/${count} messages; first wrong or missing: ${bad}`);
	} else if (pa.local !== 'relay' || pa.remote !== 'host' || pb.local !== 'host' || pb.remote !== 'relay') {
		console.error('[fastpath-webrtc] FAIL: the selected pairs are not relay -> host and host -> relay');
	} else {
		log(`PASS: ${count}/${count} messages in order, A relayed, B on its host address`);
		exitCode = 0;
	}
} catch (e) {
	console.error(`[fastpath-webrtc] FAIL: ${e && e.stack ? e.stack : e}`);
} finally {
	clearTimeout(watchdog);
	await cleanup();
}
process.exit(exitCode);
