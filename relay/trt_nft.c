/*
 * Capture of the dummy prefix (docs/trt.md "Capture"), with trt.nft: our
 * own nft table (family inet) and a local route for the prefix.
 *
 * - The table: SYNs to the prefix go to our NFQUEUE (relay/trt_syn.c)
 *   first, with `bypass` so that a relay that died does not blackhole new
 *   connections; then TPROXY hands TCP and UDP to the listeners on
 *   trt.port. Built by libnftables from a ruleset text in one transaction
 *   that first deletes a table left by a crashed run.
 * - The route: `local PREFIX dev lo` (AnyIP) rather than fwmark policy
 *   routing. Both deliver the prefix locally; AnyIP also delivers the
 *   ICMPv6 errors about our dummy-sourced packets (packet too big from a
 *   router on the client's path) to the kernel, which applies them to the
 *   accepted socket: the IPv6 path MTU is honoured. With a fwmark rule
 *   only TPROXY-marked packets are local and those errors would be
 *   forwarded away. It also needs no rule or table number of ours.
 * rtnetlink (relay/rtnl.c) for the route; never a shell.
 *
 * The SYN rule uses nft's `queue` statement (nft_queue). A kernel built
 * without it (some cloud kernels) gets the same rule with the xtables
 * NFQUEUE target through nft_compat instead, built with libnftnl: the
 * text syntax has no way to name an xtables target.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "relay/rtnl.h"
#include "relay/trt_int.h"

static int nft_run(const char *cmd, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	if (nft == NULL) {
		snprintf(err, errlen, "trt: libnftables: out of memory");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	rc = nft_run_cmd_from_buffer(nft, cmd);
	if (rc != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		size_t n;

		snprintf(err, errlen, "trt: nft: %s", e && *e ? e : "failed");
		n = strlen(err);
		while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
	}
	nft_ctx_free(nft);
	return rc == 0 ? 0 : -EIO;
}

static void local_route(const struct trt *t, struct rtnl_route *rt)
{
	memset(rt, 0, sizeof(*rt));
	rt->dst = t->cfg->trt_prefix;
	rt->table = RT_TABLE_LOCAL;
	rt->type = RTN_LOCAL;
	rt->scope = RT_SCOPE_HOST;
	rt->oif = (int)if_nametoindex("lo");
}

/* ---- the SYN rule through nft_compat ---- */

static void add_expr(struct nftnl_rule *r, struct nftnl_expr *e, int *bad)
{
	if (e == NULL) {
		*bad = 1;
		return;
	}
	nftnl_rule_add_expr(r, e);
}

static struct nftnl_expr *expr_meta(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *expr_payload(uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return e;
}

static struct nftnl_expr *expr_cmp(const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *expr_mask8(uint8_t mask)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint8_t zero = 0;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 1);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 1);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 1);
	}
	return e;
}

static struct nftnl_expr *expr_nfqueue(unsigned queue)
{
	struct nftnl_expr *e = nftnl_expr_alloc("target");
	/* The kernel checks the size rounded up to 8, as xtables does; libnftnl
	 * keeps (and frees) the buffer it is given. */
	struct xt_NFQ_info_v3 *info = calloc(1, 8);

	if (e == NULL || info == NULL) {
		free(info);
		if (e)
			nftnl_expr_free(e);
		return NULL;
	}
	info->queuenum = (uint16_t)queue;
	info->queues_total = 1;
	info->flags = NFQ_FLAG_BYPASS;
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, 8);
	return e;
}

/* ip6 daddr PREFIX/96 tcp flags & (fin|syn|rst|ack) == syn, then NFQUEUE --queue-bypass. */
static struct nftnl_rule *compat_rule(const struct trt *t, unsigned queue)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	uint8_t nfproto = NFPROTO_IPV6, tcp = IPPROTO_TCP, syn = 0x02;
	int bad = 0;

	if (r == NULL)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, t->cfg->trt_nft_table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "syn");
	add_expr(r, expr_meta(NFT_META_NFPROTO), &bad);
	add_expr(r, expr_cmp(&nfproto, 1), &bad);
	/* A /96 ends on a byte: the first 12 bytes of the destination. */
	add_expr(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 12), &bad);
	add_expr(r, expr_cmp(t->cfg->trt_prefix.net.ip, 12), &bad);
	add_expr(r, expr_meta(NFT_META_L4PROTO), &bad);
	add_expr(r, expr_cmp(&tcp, 1), &bad);
	add_expr(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1), &bad);
	add_expr(r, expr_mask8(0x17), &bad);
	add_expr(r, expr_cmp(&syn, 1), &bad);
	add_expr(r, expr_nfqueue(queue), &bad);
	if (bad) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

static int compat_queue_rule(const struct trt *t, unsigned queue)
{
	static char buf[16384];
	struct mnl_socket *nl;
	struct mnl_nlmsg_batch *b;
	struct nftnl_rule *r = compat_rule(t, queue);
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int rc = -ENOMEM, n;

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (r == NULL || nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto done;
	portid = mnl_socket_get_portid(nl);
	b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);
	nlh = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWRULE, NFPROTO_INET,
	                                 NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq + 1);
	mnl_nlmsg_batch_next(b);
	rc = -EIO;
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
		goto done;
	n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0)
		rc = -errno;
	else
		rc = 0;
	mnl_nlmsg_batch_stop(b);
done:
	if (nl)
		mnl_socket_close(nl);
	if (r)
		nftnl_rule_free(r);
	return rc;
}

/* ---- the table ---- */

static int table_install(const struct trt *t, unsigned queue, bool native, char *err, size_t errlen)
{
	const struct config *c = t->cfg;
	char cmd[2048], q[256], pb[TW_ADDR_STRLEN];

	tw_addr_fmt_ip(&c->trt_prefix.net, pb, sizeof(pb));
	q[0] = '\0';
	if (native)
		snprintf(q, sizeof(q),
		         "  ip6 daddr %s/96 tcp flags & (fin | syn | rst | ack) == syn"
		         " queue num %u bypass\n",
		         pb, queue);
	/* The table name was checked to be an nft identifier (config_trt.c). */
	snprintf(cmd, sizeof(cmd),
	         "add table inet %s\n"
	         "delete table inet %s\n"
	         "table inet %s {\n"
	         " chain syn {\n"
	         "  type filter hook prerouting priority mangle - 10; policy accept;\n"
	         "%s"
	         " }\n"
	         " chain capture {\n"
	         "  type filter hook prerouting priority mangle; policy accept;\n"
	         "  ip6 daddr %s/96 meta l4proto tcp tproxy ip6 to :%u accept\n"
	         "  ip6 daddr %s/96 meta l4proto udp tproxy ip6 to :%u accept\n"
	         " }\n"
	         "}\n",
	         c->trt_nft_table, c->trt_nft_table, c->trt_nft_table, q, pb, c->trt_port, pb,
	         c->trt_port);
	return nft_run(cmd, err, errlen);
}

int trt_nft_install(struct trt *t, unsigned queue, char *err, size_t errlen)
{
	char pb[TW_ADDR_STRLEN];
	struct rtnl_route rt;
	int rc;

	tw_addr_fmt_ip(&t->cfg->trt_prefix.net, pb, sizeof(pb));
	if (table_install(t, queue, true, err, errlen) < 0) {
		if (table_install(t, queue, false, err, errlen) < 0)
			return -EIO;
		t->nft_installed = true;
		rc = compat_queue_rule(t, queue);
		if (rc < 0) {
			snprintf(err, errlen,
			         "trt: the kernel has neither nft's queue nor xtables' NFQUEUE "
			         "target: %s",
			         strerror(-rc));
			return rc;
		}
		log_info("trt: this kernel has no nft queue statement: the SYN rule uses "
		         "xtables' NFQUEUE through nft_compat");
	}
	t->nft_installed = true;
	local_route(t, &rt);
	rc = rtnl_route_set(&rt, true);
	if (rc < 0) {
		snprintf(err, errlen, "trt: cannot add the route local %s/96 dev lo: %s", pb,
		         strerror(-rc));
		return rc;
	}
	t->route_installed = true;
	log_info("trt: nft table inet %s and route local %s/96 dev lo installed",
	         t->cfg->trt_nft_table, pb);
	return 0;
}

void trt_nft_remove(struct trt *t)
{
	char cmd[256], err[512];
	struct rtnl_route rt;
	int rc;

	if (t->route_installed) {
		local_route(t, &rt);
		rc = rtnl_route_set(&rt, false);
		if (rc < 0 && rc != -ESRCH)
			log_warn("trt: cannot remove the prefix's local route: %s", strerror(-rc));
		t->route_installed = false;
	}
	if (!t->nft_installed)
		return;
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", t->cfg->trt_nft_table);
	if (nft_run(cmd, err, sizeof(err)) < 0)
		log_warn("%s", err);
	t->nft_installed = false;
}
