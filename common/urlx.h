/*
 * urlx.h - the hosts of the URLs in a message's text, for the URL
 * checks of the content policy (DNS URI blocklists, the local domain
 * blocklist): "http://", "https://", "ftp://" and bare "www." links in
 * decoded text, and the href/src targets mime_walk.c keeps of each HTML
 * part.  Each host is lower-cased, IDNA-encoded (libidn2) and kept once;
 * urlx_registered() reduces it to its registered domain with the Public
 * Suffix List (libpsl).
 *
 * Pure: no I/O but libpsl's reading of its list on first use.  A
 * libFuzzer harness (tests/fuzz/fuzz_urlx.c) and the unit tests reach it
 * directly.  Bounded: at most URLX_MAX distinct hosts are kept (then
 * `cut` is set); IP literals are counted in `ips`, not kept.
 */
#ifndef GW_URLX_H
#define GW_URLX_H

#include <stddef.h>

#define URLX_MAX	200
#define URLX_HOST_MAX	253

struct urlx {
	char	**host;		/* distinct, lower case, ASCII (A-labels) */
	int	  n;
	int	  ips;		/* IP-literal hosts seen (not looked up) */
	int	  cut;		/* more than URLX_MAX distinct hosts */
};

/* Add the hosts of the URLs in text[0..len) to u (start zeroed). */
void	 urlx_text(struct urlx *, const char *text, size_t len);
void	 urlx_free(struct urlx *);
/* The registered domain of host ("www.a.example.co.uk" ->
 * "example.co.uk") into out: 0, or -1 when host is itself a public
 * suffix or not a name (nothing to look up). */
int	 urlx_registered(const char *host, char *out, size_t outsz);
/* 1 when host is domain or below it ("a.b.example" in "b.example"). */
int	 urlx_in_domain(const char *host, const char *domain);

#endif
