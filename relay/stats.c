#include "relay/stats.h"

const char *stats_drop_name(enum drop_reason r)
{
	switch (r) {
	case DROP_NOT_STUN:
		return "not_stun";
	case DROP_MALFORMED:
		return "malformed";
	case DROP_FINGERPRINT:
		return "bad_fingerprint";
	case DROP_NO_ALLOCATION:
		return "no_allocation";
	case DROP_NO_PERMISSION:
		return "no_permission";
	case DROP_NO_CHANNEL:
		return "no_channel";
	case DROP_POLICY:
		return "peer_policy";
	case DROP_BANDWIDTH:
		return "bandwidth";
	case DROP_RATELIMIT:
		return "unauth_ratelimit";
	case DROP_OVERSIZE:
		return "oversize";
	case DROP_SEND_ERROR:
		return "send_error";
	case DROP_BACKPRESSURE:
		return "tcp_backpressure";
	case DROP_NOT_OWNER:
		return "not_owner";
	case DROP_UNEXPECTED:
		return "unexpected_class";
	case DROP_CLASSIC:
		return "classic_refused";
	case DROP__COUNT:
		break;
	}
	return "?";
}

const char *stats_auth_fail_name(enum auth_fail f)
{
	switch (f) {
	case AUTHF_MISSING:
		return "no_credentials";
	case AUTHF_BAD_REQUEST:
		return "bad_request";
	case AUTHF_NONCE:
		return "stale_nonce";
	case AUTHF_UNKNOWN_USER:
		return "unknown_user";
	case AUTHF_EXPIRED:
		return "expired_credential";
	case AUTHF_INTEGRITY:
		return "bad_integrity";
	case AUTHF_WRONG_USER:
		return "wrong_user";
	case AUTHF_BACKOFF:
		return "backoff";
	case AUTHF__COUNT:
		break;
	}
	return "?";
}

const char *stats_ice_check_name(enum ice_check c)
{
	switch (c) {
	case ICE_CHECK_OK:
		return "ok";
	case ICE_CHECK_UNKNOWN_USER:
		return "unknown_user";
	case ICE_CHECK_INTEGRITY:
		return "bad_integrity";
	case ICE_CHECK_BAD_REQUEST:
		return "bad_request";
	case ICE_CHECK_ROLE_CONFLICT:
		return "role_conflict";
	case ICE_CHECK__COUNT:
		break;
	}
	return "?";
}

const char *stats_method_name(enum stats_method m)
{
	switch (m) {
	case SM_OTHER:
		return "other";
	case SM_BINDING:
		return "Binding";
	case SM_ALLOCATE:
		return "Allocate";
	case SM_REFRESH:
		return "Refresh";
	case SM_SEND:
		return "Send";
	case SM_DATA:
		return "Data";
	case SM_CREATE_PERMISSION:
		return "CreatePermission";
	case SM_CHANNEL_BIND:
		return "ChannelBind";
	case SM_CONNECT:
		return "Connect";
	case SM_CONNECTION_BIND:
		return "ConnectionBind";
	case SM__COUNT:
		break;
	}
	return "?";
}

const char *stats_close_name(enum conn_close c)
{
	switch (c) {
	case CLOSE_PEER:
		return "peer";
	case CLOSE_IDLE:
		return "idle";
	case CLOSE_BAD_FRAME:
		return "bad_frame";
	case CLOSE_FRAME_UNAUTH:
		return "unauth_frame_too_long";
	case CLOSE_FRAME_DEADLINE:
		return "frame_deadline";
	case CLOSE_REQUEST_DEADLINE:
		return "request_deadline";
	case CLOSE_AUTH_DEADLINE:
		return "auth_deadline";
	case CLOSE_WS_REFUSED:
		return "ws_refused";
	case CLOSE_WS_ERROR:
		return "ws_error";
	case CLOSE_WS_CLOSED:
		return "ws_closed";
	case CLOSE__COUNT:
		break;
	}
	return "?";
}

const char *stats_refuse_name(enum conn_refuse r)
{
	switch (r) {
	case REFUSE_TOTAL:
		return "total";
	case REFUSE_SOURCE:
		return "per_source";
	case REFUSE_UNAUTH:
		return "unauth_per_source";
	case REFUSE_NOFILE:
		return "nofile";
	case REFUSE__COUNT:
		break;
	}
	return "?";
}

const char *stats_ws_err_name(enum ws_err e)
{
	switch (e) {
	case WS_ERR_PROTOCOL:
		return "1002";
	case WS_ERR_DATA:
		return "1003";
	case WS_ERR_UTF8:
		return "1007";
	case WS_ERR_TOO_BIG:
		return "1009";
	case WS_ERR_OTHER:
		return "other";
	case WS_ERR__COUNT:
		break;
	}
	return "?";
}

const char *stats_tls_hs_name(enum tls_hs h)
{
	switch (h) {
	case TLSHS_OK:
		return "ok";
	case TLSHS_VERSION:
		return "version";
	case TLSHS_NO_CIPHER:
		return "no_cipher";
	case TLSHS_OTHER:
		return "other";
	case TLSHS_INCOMPLETE:
		return "incomplete";
	case TLSHS__COUNT:
		break;
	}
	return "?";
}
