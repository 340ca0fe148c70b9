/*
 * https.c - the HTTPS listener, http.listen (see https.h): requests
 * under /v1/ to the send API (api.c), the rest to the unsubscribe links
 * (unsubscribe.c).
 * Standards: RFC 9110 (through MHD, http.c).
 * Exposure: the request path, from anyone; each handler reads the rest.
 * Diagnostics: http_bind()/http_start() say why it cannot serve.
 */
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "gwd.h"
#include "http.h"
#include "https.h"
#include "unsubscribe.h"

static struct http_server *srv;

static enum MHD_Result
https_answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	if (strncmp(url, "/v1/", 4) == 0)
		return api_answer(cls, c, url, method, version, upload_data,
		    upload_data_size, req_cls);
	return unsub_answer(cls, c, url, method, version, upload_data,
	    upload_data_size, req_cls);
}

static void
https_done(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	const struct https_req *r = *req_cls;

	if (r && r->api)
		api_done(cls, c, req_cls, toe);
	else
		unsub_done(cls, c, req_cls, toe);
}

static const char *
https_address(void)
{
	return gcfg->http_listen;
}

static int
https_connections(void)
{
	return gcfg->http_connections;
}

static int64_t
https_idle(void)
{
	return gcfg->http_idle_timeout_ms;
}

static const struct http_site https_site = {
	.setting = "http.listen",
	.default_port = 443,
	.tls = 1,
	.address = https_address,
	.connections = https_connections,
	.idle_ms = https_idle,
	.handler = https_answer,
	.completed = https_done,
};

int
https_bind(char *err, size_t errsz)
{
	srv = http_bind(&https_site, err, errsz);
	return srv == NULL && err[0] ? -1 : 0;
}

int
https_start(char *err, size_t errsz)
{
	return srv ? http_start(srv, err, errsz) : 0;
}

void
https_stop(void)
{
	if (srv != NULL)
		http_stop_accepting(srv);
	api_stop();
}
