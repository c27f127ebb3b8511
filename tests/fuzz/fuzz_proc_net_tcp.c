/*
 * fuzz_proc_net_tcp.c -- libFuzzer target for the /proc/net/tcp{,6} parser
 * and the default-route reader (probes/listeners.c).
 *
 * The first byte of an input picks the mode (the printable '0'..'7' make
 * readable seeds):
 *   bits 0-1: the family: 0 AF_INET, 1 AF_INET6, 2 AF_UNSPEC, 3 the route file;
 *   bit 2:    the byte order: clear little-endian, set big-endian.
 * The rest is the file's text, parsed from a buffer of exactly its length
 * (so reading past the end is caught). Invariants checked: the count
 * returned is the count appended, never more LISTEN sockets than lines,
 * malformed lines counted no more than lines; every listener has the
 * family asked for, prints and parses back to the same address, has owner
 * "unknown"; each is covered by the wildcard of its family on its port.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/local.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *s, size_t n)
{
	size_t lines = n ? 1 : 0;

	for (size_t i = 0; i < n; i++)
		lines += s[i] == '\n';
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int fams[3] = { AF_INET, AF_INET6, AF_UNSPEC };
	struct mh_listeners l = { 0 };
	char err[MH_ERRLEN], *text;
	size_t len, nbad = 0, lines;
	unsigned mode;
	int order, n;

	if (size < 1)
		return 0;
	mode = data[0] & 7;
	order = mode & 4 ? __ORDER_BIG_ENDIAN__ : __ORDER_LITTLE_ENDIAN__;
	len = size - 1;
	text = malloc(len ? len : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, len);
	lines = count_lines(text, len);

	if ((mode & 3) == 3) {
		char ifname[IF_NAMESIZE];
		if (mh_proc_net_route_default(text, len, ifname, sizeof(ifname)) == 0 &&
		    (strlen(ifname) == 0 || strlen(ifname) >= IF_NAMESIZE))
			abort();
		free(text);
		return 0;
	}
	n = mh_proc_net_tcp_parse(text, len, fams[mode & 3], order, &l, &nbad, err, sizeof(err));
	if (n < 0 || (size_t)n != l.n || l.n > lines || nbad > lines || l.n + nbad > lines)
		abort();
	if (nbad && strncmp(err, "line ", 5) != 0)
		abort();
	for (size_t i = 0; i < l.n; i++) {
		const struct mh_listener *li = &l.v[i];
		struct mh_listener any;
		struct mh_addr back;
		char a[MH_ADDR_STRLEN];
		if ((mode & 3) == 0 && li->addr.family != AF_INET)
			abort();
		if ((mode & 3) == 1 && li->addr.family != AF_INET6)
			abort();
		if (li->pid != -1 || strcmp(li->process, "unknown") || strcmp(li->exe, "unknown"))
			abort();
		mh_addr_format(&li->addr, a, sizeof(a));
		if (mh_addr_parse(a, &back) < 0 || mh_addr_cmp(&back, &li->addr) != 0)
			abort();
		memset(&any, 0, sizeof(any));
		any.addr.family = li->addr.family;
		any.port = li->port;
		if (!mh_listener_covers(&any, &li->addr, li->port) ||
		    !mh_listener_covers(li, &li->addr, li->port))
			abort();
	}
	mh_listeners_free(&l);
	free(text);
	return 0;
}
