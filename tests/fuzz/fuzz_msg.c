// sources: gwd/msg.c common/addrlist.c common/addr.c common/buf.c common/util.c common/log.c
/*
 * fuzz_msg.c - header scanning, the stored form, and address lists.
 * Invariants: offsets stay inside the message; the stored form is the
 * prepend, the original minus Bcc: and Resent-Bcc: fields, the append,
 * and the body unchanged; no such field survives; copied values are
 * NUL-terminated and bounded.  Address lists (the input as a field value,
 * and From:/Sender: of the input as a message): a failed parse gives a
 * reason and keeps no address; every address given is printable ASCII,
 * within RFC 5321's lengths, has its '@' where it is said to, a lower
 * case domain and a canonical local part; and the addresses written back
 * as a list read back as the same addresses (nothing dropped, nothing
 * added, nothing reinterpreted).
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "addrlist.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct list {
	struct buf	 joined;	/* "a, b, c" */
	int		 n;
};

static const char *
take(void *arg, const char *addr, size_t at)
{
	struct list *l = arg;
	size_t len = strlen(addr);
	char canon[ADDR_PATH_MAX + 1];
	const char *dom = addr + at + 1;

	assert(len <= ADDR_PATH_MAX && at > 0 && at <= ADDR_LOCAL_MAX);
	assert(addr[at] == '@');
	for (size_t i = 0; i < len; i++)
		assert(addr[i] >= 0x20 && addr[i] < 0x7f);
	for (const char *d = dom; *d; d++)
		assert(!isupper((unsigned char)*d));
	/* The local part is canonical: spelling it again changes nothing. */
	if (dom[0] != '\0' && addr_valid_domain(dom)) {
		assert(addr_canon(addr, 0, canon, sizeof(canon)) == (int)len);
		assert(strcmp(canon, addr) == 0);
	}
	buf_printf(&l->joined, "%s%s", l->n++ ? ", " : "", addr);
	return NULL;
}

/* Read s as a list; when it parses, its addresses read back the same. */
static void
round_trip(const char *s, size_t len)
{
	struct list a, b;
	const char *err = NULL;
	int n;

	buf_init(&a.joined, 0);
	a.n = 0;
	n = addrlist_parse(s, len, take, &a, &err);
	if (n == -1) {
		assert(err != NULL && err[0] != '\0');
		buf_free(&a.joined);
		return;
	}
	assert(n == a.n);
	buf_init(&b.joined, 0);
	b.n = 0;
	assert(addrlist_parse(buf_cstr(&a.joined), buf_len(&a.joined), take,
	    &b, &err) == n);
	assert(strcmp(buf_cstr(&a.joined), buf_cstr(&b.joined)) == 0);
	buf_free(&a.joined);
	buf_free(&b.joined);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m = (const char *)data;
	struct msg_info mi, again;
	struct buf out;
	const char *o;

	round_trip(m, size);

	msg_scan(m, size, &mi);
	assert(mi.header_len <= size && mi.body_off <= size);
	assert(mi.header_len <= mi.body_off);
	assert(strlen(mi.subject) < sizeof(mi.subject));
	assert(strlen(mi.message_id) < sizeof(mi.message_id));
	assert(strlen(mi.from) < sizeof(mi.from));
	assert(mi.nfrom_addr >= 0 && mi.nfrom_addr <= MSG_FROM_MAX);
	assert(mi.from_err == NULL || mi.nfrom_addr == 0);
	assert(mi.nfrom > 0 || (mi.nfrom_addr == 0 && mi.from_err == NULL));
	for (int i = 0; i < mi.nfrom_addr; i++) {
		assert(strlen(mi.from_addr[i]) <= ADDR_PATH_MAX);
		assert(strchr(mi.from_addr[i], '@') != NULL);
	}
	assert(mi.sender_err == NULL || mi.sender_addr[0] == '\0');
	assert(mi.nsender == 0 || mi.sender_err != NULL ||
	    strchr(mi.sender_addr, '@') != NULL);

	buf_init(&out, 0);
	assert(msg_build(m, size, &mi, "Received: x\r\n", "Date: y\r\n",
	    &out) == 0);
	o = buf_ptr(&out);
	assert(buf_len(&out) >= 13 && memcmp(o, "Received: x\r\n", 13) == 0);
	/* The body comes through byte for byte. */
	assert(buf_len(&out) >= size - mi.header_len);
	assert(memcmp(o + buf_len(&out) - (size - mi.header_len),
	    m + mi.header_len, size - mi.header_len) == 0);
	/* Scanning the result again finds no Bcc: and the same authors. */
	msg_scan(o, buf_len(&out), &again);
	assert(again.nbcc == 0);
	assert(again.nfrom == mi.nfrom && again.nfrom_addr == mi.nfrom_addr);
	assert((again.from_err == NULL) == (mi.from_err == NULL));
	for (int i = 0; i < mi.nfrom_addr; i++)
		assert(strcmp(again.from_addr[i], mi.from_addr[i]) == 0);
	buf_free(&out);
	return 0;
}
