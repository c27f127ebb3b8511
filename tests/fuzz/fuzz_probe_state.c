/*
 * fuzz_probe_state.c -- libFuzzer target for the probe state file
 * (probes/probe.c, mh_probe_state_parse).
 *
 * The input is the text of a state file. Refused: one non-empty line that
 * names the file. Accepted: every probe's tag is a valid tag and unique, the
 * state is written back, read again, and must give the same probes; the
 * deadline logic and the counters run over it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/mail.h"
#include "mailhole/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mh_probe_state s, t;
	char err[MH_ERRLEN] = "";
	static char path[64];
	unsigned counts[MH_VERDICT_BLACK_HOLE + 1];

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/mh-fuzz-state-%d.json", (int)getpid());
	mh_probe_state_init(&s);
	if (mh_probe_state_parse((const char *)data, size, "state.json", &s, err, sizeof(err)) < 0) {
		if (!err[0] || strchr(err, '\n') || strncmp(err, "state.json", 10) != 0)
			abort();
		mh_probe_state_free(&s);
		return 0;
	}
	for (size_t i = 0; i < s.n; i++) {
		if (!mh_tag_valid(s.v[i].tag, strlen(s.v[i].tag)))
			abort();
		if (mh_probe_by_tag(&s, s.v[i].tag) != &s.v[i])
			abort();
	}
	mh_probe_counts(&s, counts);
	if (mh_probe_state_save(path, &s, err, sizeof(err)) == 0) {
		mh_probe_state_init(&t);
		if (mh_probe_state_load(path, &t, err, sizeof(err)) < 0 || t.n != s.n)
			abort();
		for (size_t i = 0; i < s.n; i++)
			if (strcmp(s.v[i].tag, t.v[i].tag) || s.v[i].verdict != t.v[i].verdict ||
			    s.v[i].sent != t.v[i].sent)
				abort();
		mh_probe_state_free(&t);
		unlink(path);
	}
	mh_probe_finalize(&s, s.deadline);
	mh_probe_state_free(&s);
	return 0;
}
