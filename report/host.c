/*
 * host.c -- the host model (include/mailhole/host.h): allocation, and what
 * is derived from the ports alone.
 */
#include "mailhole/host.h"

#include <stdlib.h>

#include "mailhole/local.h"
#include "mailhole/probe.h"

const char *mh_port_state_name(enum mh_port_state s)
{
	switch (s) {
	case MH_PORT_OPEN:
		return "open";
	case MH_PORT_CLOSED:
		return "closed";
	case MH_PORT_FILTERED:
		return "filtered";
	}
	return "unknown";
}

const char *mh_exposure_name(enum mh_exposure e)
{
	switch (e) {
	case MH_EXPOSURE_NONE:
		return "none";
	case MH_EXPOSURE_LOOPBACK:
		return "loopback-only";
	case MH_EXPOSURE_EXPOSED:
		return "exposed";
	case MH_EXPOSURE_UNKNOWN:
		break;
	}
	return "unknown";
}

struct mh_host *mh_host_new(const struct mh_addr *addr)
{
	struct mh_host *h = calloc(1, sizeof(*h));

	if (h)
		h->addr = *addr;
	return h;
}

void mh_host_free(struct mh_host **hp)
{
	struct mh_host *h;

	if (!hp || !*hp)
		return;
	h = *hp;
	for (unsigned i = 0; i < h->nports; i++)
		free(h->ports[i].smtp);
	mh_local_free(&h->local);
	if (h->probes) {
		free(h->probes->v);
		if (h->probes->owned) {
			mh_probe_state_free(h->probes->owned);
			free(h->probes->owned);
		}
		free(h->probes);
	}
	free(h);
	*hp = NULL;
}

bool mh_host_any_open(const struct mh_host *h)
{
	for (unsigned i = 0; i < h->nports; i++)
		if (h->ports[i].state == MH_PORT_OPEN)
			return true;
	return false;
}

enum mh_exposure mh_host_exposure(const struct mh_host *h)
{
	if (h->local)
		return h->local->exposure;
	if (h->nports == 0)
		return MH_EXPOSURE_UNKNOWN;
	if (!mh_host_any_open(h))
		return MH_EXPOSURE_NONE;
	return mh_addr_is_loopback(&h->addr) ? MH_EXPOSURE_LOOPBACK : MH_EXPOSURE_EXPOSED;
}
