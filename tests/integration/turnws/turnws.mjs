// TURN over WebSocket with a client nobody here wrote: the TURN client of the
// npm package turn-server (https://github.com/colocohen/turn-server), driving
// a running relay through its public API only.
//
//   node turnws.mjs URL [--count N] [--indications N] [--subprotocol NAME]
//                       [--ca FILE] [--user U] [--pass P] [--expect-refusal CODE]
//                       [--peer-host IPV4]
//
// URL is the relay's WebSocket endpoint, e.g. ws://127.0.0.1:8082/turn; a
// wss:// URL with --ca (the relay's certificate, PEM) makes the same run
// over TLS. The steps, each waiting for the previous one's success response:
//   1. Allocate (the client answers the 401 challenge itself);
//   2. CreatePermission for a UDP echo peer (node:dgram on --peer-host,
//      default 127.0.0.2: loopback, but not the relay's own address);
//   3. --indications messages as Send/Data indications;
//   4. ChannelBind 0x4001 to the peer, then --count messages as ChannelData,
//      each echoed by the peer;
//   5. Refresh with lifetime 0 (the allocation is deleted).
// --expect-refusal CODE: the run passes only when the Allocate (after the
// 401 round) is refused with CODE; it stops there.
// Every message carries its sequence number and a size that is rarely a
// multiple of 4 (so ChannelData padding is exercised both ways). The peer
// must get each one once, intact, from the relayed address; the echo must
// come back byte for byte. Any loss, error response, stall or mismatch
// exits 1 with the counts and the last bytes each way over the WebSocket.
//
// Where the echoes are counted: Data indications through the client's
// 'data' event. ChannelData from the relay under the client, from the
// WebSocket messages themselves: turn-server 0.6.6's client sends
// ChannelData but drops every one it receives, because its channel table
// is kept only in server-side allocation state (session.js
// get_peer_by_channel() finds no allocation on a client), so its 'data'
// event never fires for them. Each such message must be exactly one
// ChannelData message padded to 4 bytes (docs/websocket.md, "Sending").
//
// Node 20 has no global WebSocket; turn-server takes one through its
// `WebSocket` option, and the `ws` package is the one it names for that.
import dgram from 'node:dgram';
import fs from 'node:fs';
import { connect } from 'turn-server';
import WebSocket from 'ws';

const CHANNEL = 0x4001;
const WINDOW = 32; // messages in flight: bounded, so no socket buffer overflows
const STALL_MS = 15000; // no progress for this long fails the run
const DEADLINE_MS = 120000; // the whole run

function usage(msg) {
	console.error(`turnws: ${msg}`);
	console.error('usage: node turnws.mjs URL [--count N] [--indications N] ' +
		'[--subprotocol NAME] [--ca FILE] [--user U] [--pass P] [--expect-refusal CODE] [--peer-host IPV4]');
	process.exit(2);
}

function parseArgs(argv) {
	const o = { count: 1000, indications: 100, user: 'demo', pass: 'demo',
		subprotocol: null, ca: null, url: null, expectRefusal: null,
		peerHost: '127.0.0.2' };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const val = () => {
			if (i + 1 >= argv.length)
				usage(`${a} needs a value`);
			return argv[++i];
		};
		if (a === '--count') o.count = Number(val());
		else if (a === '--indications') o.indications = Number(val());
		else if (a === '--subprotocol') o.subprotocol = val();
		else if (a === '--ca') o.ca = val();
		else if (a === '--expect-refusal') o.expectRefusal = Number(val());
		else if (a === '--peer-host') o.peerHost = val();
		else if (a === '--user') o.user = val();
		else if (a === '--pass') o.pass = val();
		else if (!o.url && !a.startsWith('--')) o.url = a;
		else usage(`unknown argument ${a}`);
	}
	if (!o.url)
		usage('no URL');
	for (const k of ['count', 'indications'])
		if (!Number.isInteger(o[k]) || o[k] < 0 || o[k] > 100000)
			usage(`--${k} must be an integer 0..100000`);
	return o;
}

const opt = parseArgs(process.argv.slice(2));
const url = new URL(opt.url);
if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
	usage(`URL must be ws:// or wss://, not ${url.protocol}`);
const scheme = url.protocol.slice(0, -1);
const host = url.hostname.replace(/^\[|\]$/g, '');
const port = Number(url.port || (scheme === 'wss' ? 443 : 80));

// At most 96 bytes of a message, in hex, for the failure report.
function hex(b) {
	if (!b)
		return '(none)';
	const buf = Buffer.from(b);
	const h = buf.subarray(0, 96).toString('hex');
	return buf.length > 96 ? `${h}... (${buf.length} bytes)` : `${h} (${buf.length} bytes)`;
}

const wire = { sent: 0, recv: 0, lastSent: null, lastRecv: null, ws: null,
	onChannelData: null };

// The ws package's class, watched: counts and keeps the last message each
// way for the failure report, and offers a subprotocol when asked (the
// turn-server client offers none of its own).
class WatchedWebSocket extends WebSocket {
	constructor(u, opts) {
		if (opt.subprotocol)
			super(u, [opt.subprotocol], opts);
		else
			super(u, opts);
		wire.ws = this;
		// The client listens for errors only once open: a refused
		// handshake would otherwise be an unhandled 'error' event.
		this.on('error', (e) => finish(1, `WebSocket: ${e && e.message ? e.message : e}`));
		this.on('message', (d) => {
			wire.recv++;
			wire.lastRecv = d;
			const b = Buffer.from(d);
			if (b.length >= 1 && b[0] >= 0x40 && b[0] <= 0x4f)
				channelData(b);
		});
	}

	send(data, ...rest) {
		wire.sent++;
		wire.lastSent = data;
		return super.send(data, ...rest);
	}
}

// One WebSocket message from the relay that starts like ChannelData.
function channelData(b) {
	if (b.length < 4)
		return finish(1, `short ChannelData message ${hex(b)}`);
	const len = b.readUInt16BE(2);
	if (b.length !== 4 + ((len + 3) & ~3))
		return finish(1, `ChannelData of ${len} bytes in a ${b.length}-byte ` +
			`WebSocket message (want one message, padded to 4): ${hex(b)}`);
	if (wire.onChannelData)
		wire.onChannelData(b.readUInt16BE(0), b.subarray(4, 4 + len));
}

let socket = null;
let peer = null;
let phase = 'connect';
let progressAt = Date.now();
let finished = false;
const startedAt = Date.now();

function finish(code, msg) {
	if (finished)
		return;
	finished = true;
	const line = `turnws: ${code === 0 ? 'PASS' : 'FAIL'} (${phase}): ${msg}`;
	(code === 0 ? console.log : console.error)(line);
	if (code !== 0) {
		console.error(`turnws: WebSocket messages sent ${wire.sent}, received ${wire.recv}`);
		console.error(`turnws: last sent ${hex(wire.lastSent)}`);
		console.error(`turnws: last received ${hex(wire.lastRecv)}`);
	}
	clearInterval(watchdog);
	try { socket && socket.close(); } catch (e) { /* closing anyway */ }
	try { peer && peer.close(); } catch (e) { /* closing anyway */ }
	// Give the close frame a moment, bounded, then leave.
	setTimeout(() => process.exit(code), 200).unref();
	process.exitCode = code;
}

const watchdog = setInterval(() => {
	const now = Date.now();
	if (now - progressAt > STALL_MS)
		finish(1, `no progress for ${STALL_MS / 1000}s`);
	else if (now - startedAt > DEADLINE_MS)
		finish(1, `not done after ${DEADLINE_MS / 1000}s`);
}, 500);

function step(name) {
	phase = name;
	progressAt = Date.now();
	console.log(`turnws: ${name}`);
}

// Sizes 1..1200, most not a multiple of 4; the first 4 bytes are the number.
function payload(seq) {
	const len = 4 + ((seq * 37) % 1197);
	const b = Buffer.alloc(len);
	b.writeUInt32BE(seq, 0);
	for (let i = 4; i < len; i++)
		b[i] = (seq + i) & 0xff;
	return b;
}

// Send `total` messages through `sendOne`, at most WINDOW in flight, and
// resolve when every echo is back and intact. Echoes are taken from the
// client's 'data' event (channel null: Data indications) or, for a
// channel, from the ChannelData under the client (see the top).
function exchange(label, total, sendOne, channel) {
	return new Promise((resolve) => {
		let next = 0;
		let got = 0;
		const seen = new Uint8Array(total);
		peer.expect(total);
		const pump = () => {
			while (next < total && next - got < WINDOW)
				sendOne(payload(next++));
		};
		const check = (ch, b) => {
			if (ch !== channel)
				return finish(1, `${label}: data on channel ${ch}, expected ${channel}`);
			if (b.length < 4)
				return finish(1, `${label}: ${b.length}-byte message ${hex(b)}`);
			const seq = b.readUInt32BE(0);
			if (seq >= total || seen[seq])
				return finish(1, `${label}: unexpected or repeated message ${seq}`);
			if (!b.equals(payload(seq)))
				return finish(1, `${label}: message ${seq} corrupted: ${hex(b)}`);
			seen[seq] = 1;
			got++;
			progressAt = Date.now();
			if (got < total)
				return pump();
			socket.off('data', onData);
			wire.onChannelData = null;
			console.log(`turnws: ${label}: sent ${total}, the peer got ${peer.got} ` +
				`from the relayed address, echoes received ${got}, lost ` +
				`${total - got}; through the client's 'data' event: ${apiGot}`);
			if (peer.got !== total)
				return finish(1, `${label}: the peer got ${peer.got} of ${total}`);
			resolve();
		};
		let apiGot = 0;
		const onData = (from, data, ch) => {
			apiGot++;
			if (from.ip !== peer.address().address || from.port !== peer.address().port)
				return finish(1, `${label}: data from ${from.ip}:${from.port}, not the peer`);
			if (channel === null)
				check(ch ?? null, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
		};
		socket.on('data', onData);
		if (channel !== null)
			wire.onChannelData = check;
		if (total === 0)
			return resolve();
		pump();
	});
}

// One request, its success event, or fail on the error event.
function request(method, send) {
	return new Promise((resolve) => {
		const ok = (msg) => { done(); resolve(msg); };
		const bad = (msg, err) => {
			done();
			if (method === 'allocate' && opt.expectRefusal && err && err.code === opt.expectRefusal) {
				phase = 'done';
				return finish(0, `Allocate refused with ${err.code} ${err.reason || ''}, as expected; ` +
					`the request was ${hex(wire.lastSent)}`);
			}
			finish(1, `${method} refused: ${err ? `${err.code} ${err.reason || ''}` : '?'}`);
		};
		const done = () => {
			socket.off(`${method}:success`, ok);
			socket.off(`${method}:error`, bad);
		};
		socket.on(`${method}:success`, ok);
		socket.on(`${method}:error`, bad);
		send();
	});
}

// The UDP echo peer. It checks what the relay delivers: each message once,
// intact, from the relayed address (known once allocated).
function startPeer() {
	return new Promise((resolve, reject) => {
		const s = dgram.createSocket('udp4');
		let seen = null;
		s.from = null;
		s.expect = (n) => { seen = new Uint8Array(n); s.got = 0; };
		s.on('error', reject);
		s.on('message', (msg, rinfo) => {
			const src = `${rinfo.address}:${rinfo.port}`;
			if (src !== s.from)
				return finish(1, `the peer got ${msg.length} bytes from ${src}, not the relayed address ${s.from}`);
			const seq = msg.length >= 4 ? msg.readUInt32BE(0) : -1;
			if (!seen || seq < 0 || seq >= seen.length || seen[seq] || !msg.equals(payload(seq)))
				return finish(1, `the peer got an unexpected message: ${hex(msg)}`);
			seen[seq] = 1;
			s.got++;
			s.send(msg, rinfo.port, rinfo.address);
		});
		s.bind(0, opt.peerHost, () => resolve(s));
	});
}

async function run() {
	peer = await startPeer();
	const p = peer.address();
	console.log(`turnws: UDP echo peer on ${p.address}:${p.port}`);

	step(`connect ${url.href}${opt.subprotocol ? ` (subprotocol ${opt.subprotocol})` : ''}`);
	const ca = opt.ca ? fs.readFileSync(opt.ca) : null;
	// The client drops the path of a ws:// URI (it parses it as TURN URI
	// parameters), so the path goes in wsPath.
	socket = connect(`${scheme}://${url.host}`, {
		username: opt.user,
		password: opt.pass,
		WebSocket: WatchedWebSocket,
		wsPath: url.pathname + url.search,
		ca,
		servername: host,
		autoRefresh: false,
	});
	socket.on('error', (e) => finish(1, `client error: ${e && e.message ? e.message : e}`));
	socket.on('close', () => {
		if (phase !== 'done')
			finish(1, 'the WebSocket closed');
	});
	await new Promise((resolve) => socket.on('connect', resolve));
	const proto = wire.ws ? wire.ws.protocol : '';
	console.log(`turnws: connected, subprotocol '${proto}'`);
	if ((opt.subprotocol || '') !== proto)
		return finish(1, `101 named subprotocol '${proto}', offered '${opt.subprotocol || ''}'`);

	step('allocate');
	const alloc = await request('allocate', () => socket.allocate({ lifetime: 600 }));
	if (opt.expectRefusal)
		return finish(1, `Allocate succeeded; expected a ${opt.expectRefusal} refusal`);
	const relayed = alloc.getAttribute(0x0016); // XOR-RELAYED-ADDRESS
	const mapped = alloc.getAttribute(0x0020); // XOR-MAPPED-ADDRESS
	if (!relayed || !relayed.port)
		return finish(1, 'Allocate success without XOR-RELAYED-ADDRESS');
	console.log(`turnws: relayed ${relayed.ip}:${relayed.port}, mapped ` +
		`${mapped ? `${mapped.ip}:${mapped.port}` : '(none)'}`);

	peer.from = `${relayed.ip}:${relayed.port}`;
	const to = { ip: p.address, port: p.port };
	step('create_permission');
	await request('create_permission', () => socket.createPermission([to]));

	step(`${opt.indications} Send/Data indications`);
	await exchange('indications', opt.indications, (b) => socket.send(to, b), null);

	step('channel_bind');
	await request('channel_bind', () => socket.channelBind(CHANNEL, to));

	step(`${opt.count} ChannelData messages`);
	await exchange('channel', opt.count, (b) => socket.sendChannel(CHANNEL, b), CHANNEL);

	step('refresh 0');
	await request('refresh', () => socket.refresh(0));
	phase = 'done';
	finish(0, `${opt.indications} indications and ${opt.count} ChannelData messages ` +
		`echoed through ${peer.from}, none lost; ${wire.sent} WebSocket messages sent, ` +
		`${wire.recv} received`);
}

run().catch((e) => finish(1, e && e.stack ? e.stack : String(e)));
