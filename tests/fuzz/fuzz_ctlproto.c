// sources: common/ctlproto.c common/event.c common/log.c common/util.c
/*
 * fuzz_ctlproto.c - control socket requests: the version word, then
 * the queue command.  Invariants: a version word is skipped or refused
 * with a printable reason, never read past the line; a queue
 * request is accepted or refused with a printable reason; an accepted
 * one names a verb, at most CTL_MAX_IDS distinct valid ids (or ALL, or
 * for flush a domain), and option values without spaces or controls.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_queue_cmd c;
	char *line, err[256];
	const char *p;

	/* gwd hands over one line, NUL-terminated at its newline. */
	line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	err[0] = '\0';
	p = line;
	if (ctl_version(&p, err, sizeof(err)) == -1)
		assert(p == line && err[0] != '\0' && clean(err));
	else
		assert(p >= line && p <= line + strlen(line));
	err[0] = '\0';
	if (ctl_queue_parse(line, &c, err, sizeof(err)) == -1) {
		assert(err[0] != '\0' && clean(err));
		free(line);
		return 0;
	}
	assert(ctl_verb_name(c.verb) != NULL);
	assert(c.nids >= 0 && c.nids <= CTL_MAX_IDS);
	for (int i = 0; i < c.nids; i++) {
		assert(ctl_qid_valid(c.ids[i]));
		for (int j = 0; j < i; j++)
			assert(strcmp(c.ids[i], c.ids[j]) != 0);
	}
	assert(clean(c.domain) && strpbrk(c.domain, " \t") == NULL);
	assert(clean(c.subaccount) && strpbrk(c.subaccount, " \t") == NULL);
	switch (c.verb) {
	case CTL_Q_LIST:
		assert(!c.all && c.nids == 0);
		break;
	case CTL_Q_SHOW:
		assert(!c.all && c.nids == 1);
		break;
	case CTL_Q_FLUSH:
		assert(!c.all + !c.nids + !c.domain[0] == 2);
		break;
	default:
		assert(!c.all != !c.nids && c.domain[0] == '\0');
	}
	free(line);
	return 0;
}
