/*
 * tls_count.h - SMTP TLS Reporting (RFC 8460): the sessions under a
 * policy, counted in queue.db per UTC day and policy domain
 * (tls_count.c) for the daily reports (tls_report.h).
 */
#ifndef GW_TLS_COUNT_H
#define GW_TLS_COUNT_H

/*
 * One delivery session under domain's policy ("mta-sts" or "dane", as
 * the hop's tls_policy): ok, or failed as note says (mta_tls_note()'s
 * text, mapped by tlsrpt_result_type()); sending_ip, mx_host and
 * receiving_ip may be NULL or "".  Counted when tls_rpt.enable is on.
 */
void	 tls_count_session(const char *domain, const char *policy, int ok,
	    const char *note, const char *sending_ip, const char *mx_host,
	    const char *receiving_ip);

#endif
