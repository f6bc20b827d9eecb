// Chromium WebRTC through a TURN relay, end to end.
//
// Two RTCPeerConnections live in one headless Chromium page. Both are forced
// to relay-only ICE (iceTransportPolicy 'relay'), so every data-channel byte
// crosses the relay under test twice. The test passes only if every message
// arrives, in order, and getStats() shows a relay/relay candidate pair on both
// sides using the requested client transport.
//
// --transport tls means turns:HOST:PORT?transport=tcp (TURN over TLS). The
// certificate is checked as Chromium checks any: the caller makes its CA
// trusted (an NSS database under $HOME/.pki/nssdb), never switches checks off.
//
// Usage: node webrtc.mjs --port 3478 [--host 127.0.0.1] [--transport udp|tcp|tls]
//                        [--user demo] [--password demo] [--count 200]
//                        [--timeout 60]
// Exit status: 0 all delivered, 1 test failure, 2 usage or environment error.
// No browser is ever downloaded: Chromium comes from Debian (/usr/bin/chromium).

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { quietFlags } from './chromium_flags.mjs';

const log = (...a) => console.log('[webrtc]', ...a);

function usage(msg) {
	console.error(`[webrtc] ERROR: ${msg}`);
	process.exit(2);
}

let opts;
try {
	opts = parseArgs({
		options: {
			host: { type: 'string', default: '127.0.0.1' },
			port: { type: 'string', default: '3478' },
			transport: { type: 'string', default: 'udp' },
			user: { type: 'string', default: 'demo' },
			password: { type: 'string', default: 'demo' },
			count: { type: 'string', default: '200' },
			timeout: { type: 'string', default: '60' },
		},
	}).values;
} catch (e) {
	usage(e.message);
}
if (!['udp', 'tcp', 'tls'].includes(opts.transport))
	usage(`--transport must be udp, tcp or tls, not '${opts.transport}'`);
const count = Number(opts.count);
const timeoutSec = Number(opts.timeout);
if (!Number.isInteger(count) || count < 1 || count > 100000) usage('--count must be 1..100000');
if (!(timeoutSec > 0 && timeoutSec <= 600)) usage('--timeout must be 1..600 seconds');

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath))
	usage(`${executablePath} not found: apt-get install chromium (scripts/setup.sh does)`);

let chromium;
try {
	({ chromium } = await import('playwright-core'));
} catch (e) {
	usage('playwright-core is not installed: run `npm ci` in tests/integration/webrtc ' +
		`(scripts/setup.sh does): ${e.message}`);
}

const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
// RFC 7065: TLS is the turns: scheme over transport=tcp.
const turnUrl = opts.transport === 'tls'
	? `turns:${hostInUrl}:${opts.port}?transport=tcp`
	: `turn:${hostInUrl}:${opts.port}?transport=${opts.transport}`;

// Why each flag:
//  --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
//  --allow-loopback-in-peer-connection: Chromium leaves the loopback interface
//    out of WebRTC network enumeration; on a host whose only interface is lo
//    it then gathers no candidate at all (checked with Chromium 156 in an
//    `unshare -n` namespace). With another interface up it works either way.
//  --host-resolver-rules: without it Chromium resolves update.googleapis.com
//    and accounts.google.com even with the --disable-* set below. The
//    loopback literals must be excluded, or TURN over TCP fails (error 701).
//  --disable-features=WebRtcHideLocalIpsWithMdns,...: no mDNS announcements
//    of host candidates on the LAN, no media-router discovery.
//  --disable-quic and the other --disable-*: no background traffic. This
//    test talks to the relay on loopback and to nothing else.
const args = [
	...quietFlags,
	'--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,DialMediaRouteProvider,OptimizationHints,Translate',
	'--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1], EXCLUDE ::1',
	'--allow-loopback-in-peer-connection',
];
// For experiments only: shows that a lo-only host needs the flag.
if (process.env.TWIST_WEBRTC_NO_LOOPBACK_FLAG === '1')
	args.splice(args.indexOf('--allow-loopback-in-peer-connection'), 1);

// Runs inside the page. Everything it needs arrives in cfg; it returns a plain
// object describing what happened, and never throws past its own try.
async function pageTest(cfg) {
	const out = { ok: false, errors: [], candidates: { a: [], b: [] }, states: [] };
	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
	const until = async (what, pred, ms) => {
		const end = Date.now() + ms;
		while (!pred()) {
			if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
			await sleep(20);
		}
	};
	const rtcConfig = {
		iceServers: [{ urls: [cfg.url], username: cfg.user, credential: cfg.password }],
		iceTransportPolicy: 'relay',
	};
	const a = new RTCPeerConnection(rtcConfig);
	const b = new RTCPeerConnection(rtcConfig);

	// Trickle ICE, queued until the other side has its remote description.
	const wire = (name, from, to) => {
		const pending = [];
		from.onicecandidate = (e) => {
			if (!e.candidate || !e.candidate.candidate) return;
			out.candidates[name].push(e.candidate.candidate);
			if (to.remoteDescription) to.addIceCandidate(e.candidate).catch((err) => out.errors.push(`${name} addIceCandidate: ${err}`));
			else pending.push(e.candidate);
		};
		from.onicecandidateerror = (e) => out.errors.push(`${name} icecandidateerror ${e.url} ${e.errorCode} ${e.errorText}`);
		from.onconnectionstatechange = () => out.states.push(`${name}:${from.connectionState}`);
		return async () => {
			for (const c of pending.splice(0)) await to.addIceCandidate(c);
		};
	};
	const flushA = wire('a', a, b);
	const flushB = wire('b', b, a);
	// Gathering over with no relay candidate (a refused certificate, say):
	// nothing can open, so stop waiting now rather than at openMs.
	const noCandidates = () => ['a', 'b'].some((n) => out.candidates[n].length === 0 &&
		(n === 'a' ? a : b).iceGatheringState === 'complete');

	const received = [];
	let rx = null;
	b.ondatachannel = (e) => {
		rx = e.channel;
		rx.onmessage = (m) => received.push(m.data);
	};
	try {
		const tx = a.createDataChannel('twist', { ordered: true });
		await a.setLocalDescription(await a.createOffer());
		await b.setRemoteDescription(a.localDescription);
		await b.setLocalDescription(await b.createAnswer());
		await a.setRemoteDescription(b.localDescription);
		await flushA();
		await flushB();

		await until('the data channel to open (ICE through the relay)',
			() => (tx.readyState === 'open' && rx && rx.readyState === 'open') || noCandidates(), cfg.openMs);
		if (noCandidates())
			throw new Error('ICE gathering completed without a relay candidate');

		const sent = [];
		for (let i = 0; i < cfg.count; i++) {
			const msg = `${i}:${'twist'.repeat(1 + (i % 20))}`;
			// Backpressure: never queue more than 256 KiB in the channel.
			if (tx.bufferedAmount > 262144)
				await until('bufferedAmount to drain', () => tx.bufferedAmount < 65536, cfg.deliverMs);
			tx.send(msg);
			sent.push(msg);
		}
		await until(`${cfg.count} messages to arrive (got ${received.length} so far)`,
			() => received.length >= cfg.count, cfg.deliverMs);
		out.sent = sent.length;
		out.received = received.length;
		out.inOrder = received.length === sent.length && received.every((m, i) => m === sent[i]);
		if (!out.inOrder) {
			const i = received.findIndex((m, k) => m !== sent[k]);
			out.errors.push(`message ${i} differs: sent '${sent[i]}' got '${received[i]}'`);
		}

		// RTCStatsReport: transport -> selected pair -> local/remote candidates.
		out.pairs = {};
		for (const [name, pc] of [['a', a], ['b', b]]) {
			const stats = await pc.getStats();
			const byId = new Map();
			stats.forEach((s) => byId.set(s.id, s));
			let pair = null;
			stats.forEach((s) => {
				if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
			});
			if (!pair) {
				out.errors.push(`${name}: no selected candidate pair in getStats()`);
				continue;
			}
			const l = byId.get(pair.localCandidateId) || {};
			const r = byId.get(pair.remoteCandidateId) || {};
			out.pairs[name] = {
				state: pair.state,
				local: `${l.candidateType} ${l.address}:${l.port} relayProtocol=${l.relayProtocol}`,
				remote: `${r.candidateType} ${r.address}:${r.port}`,
				localType: l.candidateType,
				remoteType: r.candidateType,
				relayProtocol: l.relayProtocol,
				bytesSent: pair.bytesSent,
				bytesReceived: pair.bytesReceived,
			};
		}
	} catch (e) {
		out.errors.push(String(e && e.message ? e.message : e));
	} finally {
		a.close();
		b.close();
	}
	const pairsOk = ['a', 'b'].every((n) => {
		const p = out.pairs && out.pairs[n];
		return p && p.localType === 'relay' && p.remoteType === 'relay' && p.relayProtocol === cfg.transport;
	});
	out.pairsOk = pairsOk;
	out.ok = out.received === cfg.count && out.inOrder === true && pairsOk;
	return out;
}

const userDataDir = mkdtempSync(join(tmpdir(), 'twist-webrtc-'));
let context = null;
let exitCode = 1;
const watchdog = setTimeout(() => {
	console.error(`[webrtc] FAIL: overall timeout of ${timeoutSec + 30} s`);
	// Closing the context ends Chromium; exit whatever happens next.
	(context ? context.close() : Promise.resolve()).finally(() => {
		rmSync(userDataDir, { recursive: true, force: true });
		process.exit(1);
	});
}, (timeoutSec + 30) * 1000);

try {
	log(`chromium ${executablePath}, TURN ${turnUrl} user ${opts.user}, ${count} messages`);
	context = await chromium.launchPersistentContext(userDataDir, {
		executablePath,
		headless: true,
		args,
		timeout: 60000, // bounds the launch only: Chromium starts slowly on a loaded machine
	});
	log(`browser version ${context.browser() ? context.browser().version() : '(persistent context)'}`);
	const page = context.pages()[0] || (await context.newPage());
	page.on('console', (m) => log(`page console: ${m.text()}`));
	await page.goto('about:blank');
	const res = await page.evaluate(pageTest, {
		url: turnUrl,
		user: opts.user,
		password: opts.password,
		transport: opts.transport,
		count,
		openMs: Math.round(timeoutSec * 1000 / 2),
		deliverMs: Math.round(timeoutSec * 1000 / 2),
	});
	log(`candidates a: ${JSON.stringify(res.candidates.a)}`);
	log(`candidates b: ${JSON.stringify(res.candidates.b)}`);
	log(`connection states: ${res.states.join(' ')}`);
	for (const [n, p] of Object.entries(res.pairs || {}))
		log(`selected pair ${n}: ${p.state} local ${p.local} remote ${p.remote} ` +
			`bytesSent=${p.bytesSent} bytesReceived=${p.bytesReceived}`);
	for (const e of res.errors) log(`error: ${e}`);
	log(`sent ${res.sent ?? 0} received ${res.received ?? 0} in order ${res.inOrder ?? false} ` +
		`relay pairs ${res.pairsOk}`);
	if (res.ok) {
		log(`PASS: ${count}/${count} messages in order over relay/relay (${opts.transport})`);
		exitCode = 0;
	} else {
		console.error(`[webrtc] FAIL: see the lines above (TURN ${turnUrl})`);
	}
} catch (e) {
	console.error(`[webrtc] FAIL: ${e && e.stack ? e.stack : e}`);
} finally {
	clearTimeout(watchdog);
	if (context) await context.close().catch(() => {});
	rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
