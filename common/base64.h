/*
 * base64.h - RFC 4648 base64, strict.
 *
 * Decoding refuses anything but the canonical form: length a multiple of
 * 4, only the alphabet, '=' only as one or two final pad characters, no
 * whitespace, and zero bits where padding leaves bits over.  SMTP AUTH
 * (RFC 4954) feeds it attacker bytes (Exim CVE-2018-6789).
 */
#ifndef GW_BASE64_H
#define GW_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Bytes needed to encode n bytes, including the terminating NUL; the
 * macro for array sizes. */
#define BASE64_ENCODED_SIZE(n)	(((n) + 2) / 3 * 4 + 1)
size_t	base64_encoded_size(size_t n);
/* Encode in[0..n) into out (outsz bytes), NUL-terminated.  Returns the
 * length written (without the NUL), or -1 when outsz is less than
 * base64_encoded_size(n): then nothing is written. */
ssize_t	base64_encode(const void *in, size_t n, char *out, size_t outsz);
/* Decode in[0..n) into out (outsz bytes); *outlen gets the length.
 * Returns 0, or -1 when the input is not canonical base64 or out is too
 * small.  "" decodes to zero bytes. */
int	base64_decode(const char *in, size_t n, void *out, size_t outsz,
	    size_t *outlen);

#endif
