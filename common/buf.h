/*
 * buf.h - growable byte buffers with a hard maximum.
 *
 * Appends that would pass the maximum fail (return -1) and leave the
 * buffer as it was: nothing is ever truncated silently.  Bytes are read
 * from the front (buf_consume) without moving memory every time; the
 * live region is data[off .. len).
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 off;		/* first live byte */
	size_t	 len;		/* one past the last live byte */
	size_t	 cap;
	size_t	 max;		/* hard limit on live bytes; 0 = none */
};

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
int	 buf_reserve(struct buf *, size_t more);
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
int	 buf_putc(struct buf *, int);
/* n in decimal, as "%lld" would write it, without stdio's cost. */
int	 buf_putnum(struct buf *, long long);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 buf_consume(struct buf *, size_t);
char	*buf_cstr(struct buf *);	/* NUL-terminates (not counted) */
char	*buf_steal(struct buf *, size_t *lenp);
/* An empty buffer holding more than `keep` bytes of memory frees it
 * (it grows again when used): long-lived idle owners stay small. */
void	 buf_release(struct buf *, size_t keep);

static inline size_t
buf_len(const struct buf *b)
{
	return b->len - b->off;
}

/* The live bytes; NULL for a buffer that never held any. */
static inline char *
buf_ptr(const struct buf *b)
{
	return b->data == NULL ? NULL : b->data + b->off;
}

/* Bytes that fit at the tail without growing. */
static inline size_t
buf_room(const struct buf *b)
{
	return b->cap - b->len;
}

/* Room at the tail after buf_reserve(); commit with buf_added(). */
static inline char *
buf_tail(struct buf *b)
{
	return b->data + b->len;
}

static inline void
buf_added(struct buf *b, size_t n)
{
	b->len += n;
}

#endif
