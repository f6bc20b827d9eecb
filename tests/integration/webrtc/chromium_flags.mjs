// Chromium flags shared by the scripts here (webrtc.mjs says why each):
// root needs --no-sandbox, and the browser must make no traffic of its own
// (updates, sync, QUIC probes, extensions) beside what the test asks.
export const quietFlags = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--disable-default-apps',
	'--disable-extensions',
];
