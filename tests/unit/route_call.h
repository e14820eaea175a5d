/* route_call.h — for engine unit tests: runs a matched route's handler on
 * a request the test built, doing what the router does between matching
 * and the handler (field coercion, null fields dropped, the existence
 * check that turns an update into a create), without tokens or ACLs. */
#ifndef TROVE_TEST_ROUTE_CALL_H
#define TROVE_TEST_ROUTE_CALL_H

#include "core/router.h"

/* req->op, data, storage and route are set; resp is response_init'd.
 * Returns the handler's result (a coercion failure is TROVE_ERR_INVALID
 * naming the field, no handler is TROVE_ERR_UNSUPPORTED_OP). */
int route_call(struct request *req, struct response *resp);

#endif
