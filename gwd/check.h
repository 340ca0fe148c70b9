/*
 * check.h - gwd -n: what would stop gwd at start, found without
 * starting it, each problem named by its setting and line.
 */
#ifndef GW_CHECK_H
#define GW_CHECK_H

struct gw_config;

/*
 * Check cfg as `gwd -n` does (with verbose, print the effective
 * configuration too) and say "configuration OK": 0, or EX_CONFIG after
 * reporting every problem on stderr.
 */
int	 check_config(const struct gw_config *cfg, int verbose);
/* Warn when hostname is not a fully qualified domain name. */
void	 check_hostname(const struct gw_config *cfg);

#endif
