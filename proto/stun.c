/*
 * STUN message parsing (RFC 8489 §5, §14) and the small tables around it:
 * message type bits, names, known attributes and default reason phrases.
 */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/stun.h"

bool stun_is_msg(const uint8_t *buf, size_t len)
{
	/* RFC 8489 §5: the top two bits are zero, the length is a multiple of 4. */
	if (len < STUN_HDR_LEN || (buf[0] & 0xc0) != 0)
		return false;
	if ((peek_u16(buf + 2) & 3) != 0)
		return false;
	return peek_u32(buf + 4) == STUN_MAGIC;
}

/*
 * RFC 8489 §5: the 12 method bits and 2 class bits are interleaved as
 * M11..M7 C1 M6..M4 C0 M3..M0.
 */
uint16_t stun_type_encode(uint16_t method, uint8_t cls)
{
	return (uint16_t)((method & 0x000f) | (method & 0x0070) << 1 | (method & 0x0f80) << 2 |
	                  (cls & 1) << 4 | (cls & 2) << 7);
}

void stun_type_decode(uint16_t type, uint16_t *method, uint8_t *cls)
{
	*method = (uint16_t)((type & 0x000f) | (type & 0x00e0) >> 1 | (type & 0x3e00) >> 2);
	*cls = (uint8_t)((type & 0x0010) >> 4 | (type & 0x0100) >> 7);
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
	for (uint8_t i = 0; i < m->nunknown; i++)
		if (m->unknown[i] == type)
			return;
	/* More than we can report: the first ones are enough for a 420. */
	if (m->nunknown < STUN_MAX_UNKNOWN)
		m->unknown[m->nunknown++] = type;
}

/*
 * Which attributes count (RFC 8489 §14.5, §14.6): after MESSAGE-INTEGRITY
 * only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; after
 * MESSAGE-INTEGRITY-SHA256 only FINGERPRINT.
 */
static bool attr_counts(const struct stun_msg *m, uint16_t type)
{
	if (m->mi256 >= 0)
		return type == STUN_A_FINGERPRINT;
	if (m->mi >= 0)
		return type == STUN_A_MESSAGE_INTEGRITY_SHA256 || type == STUN_A_FINGERPRINT;
	return true;
}

static int attr_add(struct stun_msg *m, uint16_t type, uint16_t len, size_t off)
{
	struct stun_attr *a;
	int8_t idx;

	/* A second integrity of the same kind can only be an attack or a bug. */
	if ((type == STUN_A_MESSAGE_INTEGRITY && m->mi >= 0) ||
	    (type == STUN_A_MESSAGE_INTEGRITY_SHA256 && m->mi256 >= 0))
		return -EPROTO;
	if (!attr_counts(m, type))
		return 0;
	idx = (int8_t)m->nattrs;
	a = &m->attr[m->nattrs++];
	a->type = type;
	a->len = len;
	a->off = (uint16_t)off;
	if (type == STUN_A_MESSAGE_INTEGRITY)
		m->mi = idx;
	else if (type == STUN_A_MESSAGE_INTEGRITY_SHA256)
		m->mi256 = idx;
	else if (type == STUN_A_FINGERPRINT)
		m->fp = idx;
	else if (type < 0x8000 && !stun_attr_known(type))
		note_unknown(m, type);
	return 0;
}

static int attrs_parse(struct stun_msg *m, struct cur *c)
{
	unsigned count = 0;
	int rc;

	while (cur_left(c) > 0) {
		struct cur val;
		uint16_t type, len;
		size_t off;

		/* Counted on the wire, so ignored attributes cannot make us spin. */
		if (++count > STUN_MAX_ATTRS)
			return -EPROTO;
		/* RFC 8489 §14.7: FINGERPRINT is the last attribute. */
		if (m->fp >= 0)
			return -EPROTO;
		if (cur_get_u16(c, &type) < 0 || cur_get_u16(c, &len) < 0)
			return -EPROTO;
		off = c->pos;
		/* RFC 8489 §14: values are padded to 4 bytes; the padding must be there. */
		if (cur_get_sub(c, ((size_t)len + 3) & ~(size_t)3, &val) < 0)
			return -EPROTO;
		if ((rc = attr_add(m, type, len, off)) < 0)
			return rc;
	}
	return 0;
}

/* The header after the first 4 bytes were checked; cookie is what stands there. */
static int header_parse(struct stun_msg *m, struct cur *c, const uint8_t *buf, size_t len)
{
	uint16_t type, mlen;

	if (cur_get_u16(c, &type) < 0 || cur_get_u16(c, &mlen) < 0 ||
	    cur_get_bytes(c, m->tid0, sizeof(m->tid0)) < 0 ||
	    cur_get_bytes(c, m->tid, STUN_TID_LEN) < 0)
		return -EBADMSG;
	if ((size_t)mlen + STUN_HDR_LEN != len)
		return -EBADMSG;
	m->buf = buf;
	m->len = (uint16_t)len;
	stun_type_decode(type, &m->method, &m->cls);
	return 0;
}

static void msg_reset(struct stun_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->mi = m->mi256 = m->fp = -1;
}

int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	struct cur c;

	msg_reset(m);
	/* RFC 8489 §5: cheap header checks first; any failure means "not STUN". */
	if (len > STUN_MAX_MSG || !stun_is_msg(buf, len))
		return -EBADMSG;
	cur_init(&c, buf, len);
	if (header_parse(m, &c, buf, len) < 0)
		return -EBADMSG;
	return attrs_parse(m, &c);
}

int stun_classic_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	struct cur c;

	msg_reset(m);
	/* RFC 3489 §11.1: the same two zero bits and 4-byte-aligned length. */
	if (len > STUN_MAX_MSG || len < STUN_HDR_LEN || (buf[0] & 0xc0) != 0 ||
	    (peek_u16(buf + 2) & 3) != 0 || peek_u32(buf + 4) == STUN_MAGIC)
		return -EBADMSG;
	cur_init(&c, buf, len);
	if (header_parse(m, &c, buf, len) < 0)
		return -EBADMSG;
	m->classic = true;
	return attrs_parse(m, &c);
}

const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type)
{
	for (uint8_t i = 0; i < m->nattrs; i++)
		if (m->attr[i].type == type)
			return &m->attr[i];
	return NULL;
}

const char *stun_method_name(uint16_t method)
{
	switch (method) {
	case STUN_BINDING:
		return "Binding";
	case STUN_ALLOCATE:
		return "Allocate";
	case STUN_REFRESH:
		return "Refresh";
	case STUN_SEND:
		return "Send";
	case STUN_DATA:
		return "Data";
	case STUN_CREATE_PERMISSION:
		return "CreatePermission";
	case STUN_CHANNEL_BIND:
		return "ChannelBind";
	case STUN_CONNECT:
		return "Connect";
	case STUN_CONNECTION_BIND:
		return "ConnectionBind";
	case STUN_CONNECTION_ATTEMPT:
		return "ConnectionAttempt";
	default:
		return "unknown";
	}
}

static const char *attr_name(uint16_t type)
{
	switch (type) {
	case STUN_A_MAPPED_ADDRESS:
		return "MAPPED-ADDRESS";
	case STUN_A_CHANGE_REQUEST:
		return "CHANGE-REQUEST";
	case STUN_A_USERNAME:
		return "USERNAME";
	case STUN_A_MESSAGE_INTEGRITY:
		return "MESSAGE-INTEGRITY";
	case STUN_A_ERROR_CODE:
		return "ERROR-CODE";
	case STUN_A_UNKNOWN_ATTRIBUTES:
		return "UNKNOWN-ATTRIBUTES";
	case STUN_A_CHANNEL_NUMBER:
		return "CHANNEL-NUMBER";
	case STUN_A_LIFETIME:
		return "LIFETIME";
	case STUN_A_XOR_PEER_ADDRESS:
		return "XOR-PEER-ADDRESS";
	case STUN_A_DATA:
		return "DATA";
	case STUN_A_REALM:
		return "REALM";
	case STUN_A_NONCE:
		return "NONCE";
	case STUN_A_XOR_RELAYED_ADDRESS:
		return "XOR-RELAYED-ADDRESS";
	case STUN_A_REQUESTED_ADDRESS_FAMILY:
		return "REQUESTED-ADDRESS-FAMILY";
	case STUN_A_EVEN_PORT:
		return "EVEN-PORT";
	case STUN_A_REQUESTED_TRANSPORT:
		return "REQUESTED-TRANSPORT";
	case STUN_A_DONT_FRAGMENT:
		return "DONT-FRAGMENT";
	case STUN_A_MESSAGE_INTEGRITY_SHA256:
		return "MESSAGE-INTEGRITY-SHA256";
	case STUN_A_PASSWORD_ALGORITHM:
		return "PASSWORD-ALGORITHM";
	case STUN_A_USERHASH:
		return "USERHASH";
	case STUN_A_XOR_MAPPED_ADDRESS:
		return "XOR-MAPPED-ADDRESS";
	case STUN_A_RESERVATION_TOKEN:
		return "RESERVATION-TOKEN";
	case STUN_A_CONNECTION_ID:
		return "CONNECTION-ID";
	case STUN_A_PRIORITY:
		return "PRIORITY";
	case STUN_A_USE_CANDIDATE:
		return "USE-CANDIDATE";
	case STUN_A_PADDING:
		return "PADDING";
	case STUN_A_RESPONSE_PORT:
		return "RESPONSE-PORT";
	case STUN_A_ADDITIONAL_ADDRESS_FAMILY:
		return "ADDITIONAL-ADDRESS-FAMILY";
	case STUN_A_ADDRESS_ERROR_CODE:
		return "ADDRESS-ERROR-CODE";
	case STUN_A_PASSWORD_ALGORITHMS:
		return "PASSWORD-ALGORITHMS";
	case STUN_A_ALTERNATE_DOMAIN:
		return "ALTERNATE-DOMAIN";
	case STUN_A_ICMP:
		return "ICMP";
	case STUN_A_SOFTWARE:
		return "SOFTWARE";
	case STUN_A_ALTERNATE_SERVER:
		return "ALTERNATE-SERVER";
	case STUN_A_FINGERPRINT:
		return "FINGERPRINT";
	case STUN_A_ICE_CONTROLLED:
		return "ICE-CONTROLLED";
	case STUN_A_ICE_CONTROLLING:
		return "ICE-CONTROLLING";
	case STUN_A_RESPONSE_ORIGIN:
		return "RESPONSE-ORIGIN";
	case STUN_A_OTHER_ADDRESS:
		return "OTHER-ADDRESS";
	default:
		return NULL;
	}
}

const char *stun_attr_name(uint16_t type)
{
	const char *name = attr_name(type);

	return name ? name : "unknown";
}

bool stun_attr_known(uint16_t type)
{
	return attr_name(type) != NULL;
}

/* RFC 8489 §14.8 and RFC 8656 §18 registry phrases. */
const char *stun_error_reason(int code)
{
	switch (code) {
	case 300:
		return "Try Alternate";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthenticated";
	case 403:
		return "Forbidden";
	case 420:
		return "Unknown Attribute";
	case 437:
		return "Allocation Mismatch";
	case 438:
		return "Stale Nonce";
	case 440:
		return "Address Family not Supported";
	case 441:
		return "Wrong Credentials";
	case 442:
		return "Unsupported Transport Protocol";
	case 443:
		return "Peer Address Family Mismatch";
	case 446: /* RFC 6062 §6.3 */
		return "Connection Already Exists";
	case 447:
		return "Connection Timeout or Failure";
	case 486:
		return "Allocation Quota Reached";
	case 487:
		return "Role Conflict";
	case 500:
		return "Server Error";
	case 508:
		return "Insufficient Capacity";
	default:
		return "Error";
	}
}

/* Bytes in the UTF-8 sequence led by c, or 0 for a byte that cannot lead. */
static size_t utf8_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

bool stun_opaque_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_len(s[i]);
		uint32_t cp;

		if (n == 0 || n > len - i)
			return false;
		cp = n == 1 ? s[i] : (uint32_t)(s[i] & (0x7f >> n));
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, past U+10FFFF; then the controls. */
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += n;
	}
	return true;
}
