/*
 * mimeload.h - the body of bench/submitload --mime, shared with
 * bench/polcg.c so that the callgrind driver walks exactly what the
 * bench sends: a third of the size each as a quoted-printable text
 * part, a base64 HTML part and a base64 attachment, each line 76
 * octets; the text is prose with an order number, nothing a detector
 * confirms.  Header-only (each bench tool is one source file).
 */
#ifndef GW_BENCH_MIMELOAD_H
#define GW_BENCH_MIMELOAD_H

#include <string.h>

/* The top fields that make it multipart. */
#define MIMELOAD_HEAD	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; " \
			"boundary=\"=-load-=\"\r\n"

/* The parts and the closing boundary for a message of about size bytes,
 * into out (room for size + 4096); returns the length. */
static inline size_t
mimeload_parts(char *out, size_t size)
{
	static const char qp[] = "Dear customer, your order 2026-118 of Tue=\r\n"
	    "sday is on its way; caf=C3=A9 and the team thank you, regards.\r\n";
	static const char b64[] = "PHA+RGVhciBjdXN0b21lciwgeW91ciBvcmRlciAyMDI"
	    "2LTExOCBpcyBvbiBpdHMgd2F5Ljwv\r\n";
	static const char *const heads[] = {
	    "--=-load-=\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
	    "--=-load-=\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n",
	    "--=-load-=\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
	    "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n" };
	size_t part = size > 600 ? (size - 600) / 3 : 1, n = 0;

	for (int i = 0; i < 3; i++) {
		const char *l = i == 0 ? qp : b64;
		size_t ll = strlen(l), start;

		memcpy(out + n, heads[i], strlen(heads[i]));
		n += strlen(heads[i]);
		for (start = n; n - start < part || n == start; n += ll)
			memcpy(out + n, l, ll);
	}
	memcpy(out + n, "--=-load-=--\r\n", 14);
	return n + 14;
}

#endif
