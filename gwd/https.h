/*
 * https.h - gwd's HTTPS listener (http.listen): the one-click
 * unsubscribe links (unsubscribe.c, /u/TOKEN) and the HTTP send API
 * (api.c, /v1/...), one MHD site whose requests go to either by path.
 */
#ifndef GW_HTTPS_H
#define GW_HTTPS_H

#include <stddef.h>

/* Bind http.listen when configured (before privileges are dropped),
 * then serve it from the loop: -1 with err. */
int	 https_bind(char *err, size_t errsz);
int	 https_start(char *err, size_t errsz);
/* gwd is stopping: no new connection; those held are served on (the
 * send API's answers, api_stop()). */
void	 https_stop(void);

#endif
