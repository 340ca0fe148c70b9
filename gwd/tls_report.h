/*
 * tls_report.h - SMTP TLS Reporting (RFC 8460): the daily aggregate
 * reports of the sessions tls_count.h counted, mailed to the rua of
 * _smtp._tls.DOMAIN (tls_report.c).
 */
#ifndef GW_TLS_REPORT_H
#define GW_TLS_REPORT_H

struct conn;

/* The daily job: at start-up and after each UTC midnight, the reports
 * of every day before today still counted. */
void	 tls_report_start(void);
/* The control socket's "tls-report send [YYYY-MM-DD]" (default today). */
void	 tls_report_control(struct conn *, const char *args);

#endif
