/*
 * addrlist_dump.c - gwd's reading of address lists, for the differential
 * test against Python's email.headerregistry (tests/e2e/test_addrlist.py).
 *
 * Reads header values from standard input, each ended by a NUL byte, and
 * prints for each either "ok N" and its N addresses one a line, or
 * "error REASON".  With -m, each record is a whole message instead, and
 * the From: and Sender: of msg_scan() are printed the same way, From:
 * first, then "sender" and the Sender: address or error ("-" without).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"
#include "msg.h"

static const char *
print_one(void *arg, const char *addr, size_t at)
{
	struct buf *out = arg;

	buf_printf(out, "%s\n", addr);
	return NULL;
}

static void
value(const char *s, size_t len)
{
	struct buf out;
	const char *err;
	int n;

	buf_init(&out, 0);
	if ((n = addrlist_parse(s, len, print_one, &out, &err)) == -1)
		printf("error %s\n", err);
	else
		printf("ok %d\n%s", n, buf_cstr(&out));
	buf_free(&out);
}

static void
message(const char *s, size_t len)
{
	struct msg_info mi;

	msg_scan(s, len, &mi);
	if (mi.from_err)
		printf("error %s\n", mi.from_err);
	else {
		printf("ok %d\n", mi.nfrom_addr);
		for (int i = 0; i < mi.nfrom_addr; i++)
			printf("%s\n", mi.from_addr[i]);
	}
	printf("sender %s\n", mi.nsender == 0 ? "-" : mi.sender_err ?
	    mi.sender_err : mi.sender_addr);
}

int
main(int argc, char **argv)
{
	struct buf in;
	char chunk[65536];
	size_t n, start = 0;
	int whole = argc > 1 && strcmp(argv[1], "-m") == 0;

	buf_init(&in, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_append(&in, chunk, n) == -1)
			return 1;
	for (size_t i = 0; i < buf_len(&in); i++) {
		if (buf_ptr(&in)[i] != '\0')
			continue;
		(whole ? message : value)(buf_ptr(&in) + start, i - start);
		start = i + 1;
	}
	buf_free(&in);
	return fflush(stdout) == 0 ? 0 : 1;
}
