/*
 * buf.c - growable byte buffers with a hard maximum.
 * Diagnostics: never dies; an append past the maximum, or without
 * memory, returns -1 and leaves the buffer as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

/* Make room for `more` bytes after the live region. */
int
buf_reserve(struct buf *b, size_t more)
{
	size_t live = b->len - b->off, need, ncap;
	char *p;

	if (b->max && more > b->max - live) {
		errno = E2BIG;
		return -1;
	}
	if (b->cap - b->len >= more)
		return 0;
	/* Reclaim consumed space at the front before growing. */
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, live);
		b->off = 0;
		b->len = live;
		if (b->cap - b->len >= more)
			return 0;
	}
	need = live + more + 1;		/* +1 keeps room for buf_cstr */
	ncap = b->cap ? b->cap : 256;
	while (ncap < need) {
		if (ncap > ((size_t)-1) / 2) {
			errno = ENOMEM;
			return -1;
		}
		ncap *= 2;
	}
	if ((p = realloc(b->data, ncap)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_append(b, &ch, 1);
}

int
buf_putnum(struct buf *b, long long n)
{
	unsigned long long u = n < 0 ? -(unsigned long long)n :
	    (unsigned long long)n;
	char d[24], *p = d + sizeof(d);

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (n < 0)
		*--p = '-';
	return buf_append(b, p, (size_t)(d + sizeof(d) - p));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n + 1) == -1)
		return -1;
	if (vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap) != n)
		return -1;
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len - b->off) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
}

char *
buf_cstr(struct buf *b)
{
	static char empty[1];

	if (b->data == NULL || b->cap <= b->len) {
		/* Room for the terminator is not counted against max. */
		size_t max = b->max;

		b->max = 0;
		if (buf_reserve(b, 1) == -1) {
			b->max = max;
			return empty;
		}
		b->max = max;
	}
	b->data[b->len] = '\0';
	return b->data + b->off;
}

void
buf_release(struct buf *b, size_t keep)
{
	if (b->len == b->off && b->cap > keep)
		buf_free(b);
}

/* Hand the live bytes to the caller (NUL-terminated); the buffer empties. */
char *
buf_steal(struct buf *b, size_t *lenp)
{
	char *p;
	size_t n = buf_len(b);

	buf_cstr(b);
	if (b->data == NULL) {
		if ((p = strdup("")) == NULL)
			return NULL;
	} else if (b->off > 0) {
		memmove(b->data, b->data + b->off, n + 1);
		p = b->data;
	} else
		p = b->data;
	if (lenp)
		*lenp = n;
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	return p;
}
