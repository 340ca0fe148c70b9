// sources: gwd/msg.c common/buf.c
/*
 * fuzz_msg.c - header scanning and the stored form.  Invariants: offsets
 * stay inside the message; the stored form is the prepend, the original
 * minus Bcc: and Resent-Bcc: fields, the append, and the body unchanged;
 * no such field survives; copied values are NUL-terminated and bounded.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m = (const char *)data;
	struct msg_info mi, again;
	struct buf out;
	const char *o;

	msg_scan(m, size, &mi);
	assert(mi.header_len <= size && mi.body_off <= size);
	assert(mi.header_len <= mi.body_off);
	assert(strlen(mi.subject) < sizeof(mi.subject));
	assert(strlen(mi.message_id) < sizeof(mi.message_id));
	assert(mi.nfrom_addr <= MSG_FROM_MAX);
	for (int i = 0; i < mi.nfrom_addr; i++)
		assert(strchr(mi.from_addr[i], '@') != NULL);

	buf_init(&out, 0);
	assert(msg_build(m, size, &mi, "Received: x\r\n", "Date: y\r\n",
	    &out) == 0);
	o = buf_ptr(&out);
	assert(buf_len(&out) >= 13 && memcmp(o, "Received: x\r\n", 13) == 0);
	/* The body comes through byte for byte. */
	assert(buf_len(&out) >= size - mi.header_len);
	assert(memcmp(o + buf_len(&out) - (size - mi.header_len),
	    m + mi.header_len, size - mi.header_len) == 0);
	/* Scanning the result again finds no Bcc:. */
	msg_scan(o, buf_len(&out), &again);
	assert(again.nbcc == 0);
	buf_free(&out);
	return 0;
}
