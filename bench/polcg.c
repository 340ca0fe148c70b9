/*
 * polcg.c - the content-policy stage's pure part on bench/relay's MIME
 * load, for callgrind: the stored form of one message of bench/submitload
 * --mime (gwd's Received: and Date: around the client's fields, then the
 * three parts of bench/mimeload.h, as gwd/data_assemble.c stores it),
 * walked (mime_walk.c; no libmagic, as in gwd: the bench's policies have
 * no attachment rule) and scanned (dlp.c, bench/relay's ten detectors in
 * one database) N times.  Built by `make bench` (or make build/polcg).
 *
 *   valgrind --tool=callgrind --toggle-collect=mime_walk \
 *       --toggle-collect=dlp_scan --toggle-collect=mime_walk_free \
 *       build/polcg [--gmime-only] [--plain | --binary] [SIZE [N]]
 *   callgrind_annotate [--inclusive=yes] callgrind.out.PID
 *
 * With the toggles only the walk, the scan and the freeing are counted
 * (not Hyperscan's compile or GMime's start): divide by N (default 100)
 * for instructions per message, by function.  Instruction counts do not
 * depend on the machine's load, unlike the CPU time of a shared VM.
 * --gmime-only: the walk without its shortcuts (mime_walk.h), the old
 * path; --plain: submitload's text/plain load; --binary: the MIME load
 * with an attachment that is not text (each of its lines one of the
 * same length that decodes to bytes 0 to 53): its first 8 KiB decoded
 * and sniffed, the rest only counted; not what the bench sends.  Prints the walk's result
 * once, so two builds or paths can be compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlp.h"
#include "mime_walk.h"
#include "mimeload.h"

/* bench/relay's POLICIES, in its order. */
static const char *const SPECS[] = { "card", "ssn", "iban", "email", "phone",
	"phi", "regex:ACME-[0-9]{6}", "regex:(?i)project\\s+falcon",
	"keywords:confidential,internal only,do not forward",
	"keywords:password,passwd,secret key" };

/*
 * The stored form gwd scans of one message of bench/submitload's
 * send_message() (--mime: mimeload.h; else its text/plain load): gwd's
 * Received: first, the client's fields, gwd's Date: added, the body
 * dot-unstuffed without the final dot.
 */
static char *
make_message(size_t size, int plain, size_t *len)
{
	static const char line[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ0123456789 the load line\r\n";
	char *m = malloc(size * 2 + 8192);
	size_t n;

	if (m == NULL)
		return NULL;
	n = (size_t)sprintf(m, "Received: from bench.test ([127.0.0.1])\r\n"
	    "\tby gw.bench (gw) with ESMTP id 0123456789abcdef;\r\n"
	    "\tMon, 07 Dec 2026 13:00:00 +0000\r\n"
	    "From: <sender@bench.test>\r\nTo: <rcpt@sink.test>\r\n"
	    "Subject: load 17\r\n"
	    "Message-ID: <17.17.4242@submitload.bench>\r\n%s"
	    "Date: Mon, 07 Dec 2026 13:00:00 +0000\r\n\r\n", plain ? "" :
	    MIMELOAD_HEAD);
	if (plain) {
		size_t want = size > 200 ? size - 200 : 0, start = n;

		while (n - start < want || n == start) {
			memcpy(m + n, line, sizeof(line) - 1);
			n += sizeof(line) - 1;
		}
		*len = n;
		return m;
	}
	*len = n + mimeload_parts(m + n, size);
	return m;
}

/* The attachment's lines (after its head, before the closing boundary)
 * replaced by a line of the same length that decodes to binary bytes. */
static void
make_binary(char *m, size_t len)
{
	static const char bin[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
	    "Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1\r\n";
	char *p = strstr(m, "filename=\"r.pdf\"");

	if (p == NULL || (p = strstr(p, "\r\n\r\n")) == NULL)
		return;
	for (p += 4; p + sizeof(bin) - 1 <= m + len && *p != '-';
	    p += sizeof(bin) - 1)
		memcpy(p, bin, sizeof(bin) - 1);
}

static void
print_walk(const struct mime_walk *w, const struct dlp_result *r)
{
	printf("parts=%d texts=%d attachments=%d flags=%#x textlen=%zu\n",
	    w->nparts, w->ntexts, w->natt, w->flags, w->textlen);
	for (int i = 0; i < w->ntexts; i++)
		printf("  text %s %s %zu bytes\n", w->texts[i].path,
		    w->texts[i].type, w->texts[i].len);
	for (int i = 0; i < w->natt; i++)
		printf("  attachment %s %s %s (%s) %zu bytes\n", w->att[i].path,
		    w->att[i].name, w->att[i].type, w->att[i].sniffed,
		    w->att[i].size);
	printf("  counts:");
	for (int i = 0; i < r->n; i++)
		printf(" %d", r->c[i].count);
	printf("\n");
}

int
main(int argc, char **argv)
{
	struct mime_limits lim = mime_limits_default;
	int nspec = (int)(sizeof(SPECS) / sizeof(SPECS[0])), plain = 0, n;
	int binary = 0;
	size_t size, len;
	struct dlp_db *db;
	char err[200], *msg;

	for (; argc > 1 && argv[1][0] == '-'; argc--, argv++) {
		if (strcmp(argv[1], "--gmime-only") == 0)
			lim.gmime_only = 1;
		else if (strcmp(argv[1], "--plain") == 0)
			plain = 1;
		else if (strcmp(argv[1], "--binary") == 0)
			binary = 1;
		else {
			fprintf(stderr, "usage: polcg [--gmime-only] [--plain |"
			    " --binary] [SIZE [N]]\n");
			return 64;
		}
	}
	size = argc > 1 ? strtoul(argv[1], NULL, 10) : 5120;
	n = argc > 2 ? atoi(argv[2]) : 100;
	lim.no_magic = 1;
	if (size == 0 || n < 1 || (msg = make_message(size, plain, &len)) ==
	    NULL) {
		fprintf(stderr, "polcg: bad size or count\n");
		return 64;
	}
	if (binary && !plain)
		make_binary(msg, len);
	if ((db = dlp_compile(SPECS, nspec, err, sizeof(err))) == NULL) {
		fprintf(stderr, "polcg: %s\n", err);
		return 1;
	}
	mime_init();
	for (int i = 0; i < n; i++) {
		struct mime_walk w;
		struct dlp_result r;

		mime_walk(msg, len, &lim, &w);
		if (dlp_scan(db, &w, &r, err, sizeof(err)) == -1) {
			fprintf(stderr, "polcg: %s\n", err);
			return 1;
		}
		if (i == 0) {
			printf("message %zu bytes, %d walks and scans\n", len,
			    n);
			print_walk(&w, &r);
		}
		dlp_result_free(&r);
		mime_walk_free(&w);
	}
	dlp_db_free(db);
	free(msg);
	return 0;
}
