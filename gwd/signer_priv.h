/*
 * signer_priv.h - what the signer's two files share, and nothing else of
 * gwd sees (signer.h is their public face):
 *
 *   signer.c     which keys sign a message, and its signing jobs (a
 *                worker prepares, the key process signs)
 *   signer_kp.c  the key process's client: starting it, the sign and
 *                control channels, losing it and starting another
 */
#ifndef GW_SIGNER_PRIV_H
#define GW_SIGNER_PRIV_H

#include "signer.h"

struct dkim_key;

/* signer.c */
void	 signer_set_keys(struct dkim_key *, int n);
void	 signer_finish(struct sign_job *);

/* signer_kp.c */
void	 signer_kp_send(struct sign_job *);

#endif
