// Kubernetes API errors as br2k Status values. Pure function, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k::kube {

// Maps an API server answer (HTTP status and body) to a Status. The body of an API error is a
// `kind: Status` object ({"kind":"Status","status":"Failure","message":...,"reason":...,
// "code":...}; https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/).
//   2xx                          OK
//   400, 413, 415, 422           INVALID_ARGUMENT
//   401                          UNAUTHENTICATED
//   403                          PERMISSION_DENIED
//   404                          NOT_FOUND
//   405                          UNIMPLEMENTED
//   409 reason AlreadyExists     ALREADY_EXISTS
//   409 otherwise, 410           ABORTED (reason Conflict: "field manager conflict or concurrent
//                                update"; retrying with fresh state may succeed)
//   429, 5xx                     UNAVAILABLE
//   anything else                UNKNOWN
// The message reads "kubernetes API: HTTP <code> <reason>: <server message>", where the server's
// message (or, for a body that is not a Status object, the start of the body) is escaped (bytes
// outside printable ASCII become \xNN) and capped at about 512 bytes. Any body is accepted:
// malformed JSON, binary, empty. The body is quoted as the server sent it: a caller that sent a
// secret must redact it from `body` first (ApiClient does so for its token).
Status StatusFromApiError(int http_status, std::string_view body);

// `text` with bytes outside printable ASCII (and '\\') escaped as \xNN (\\), cut to at most
// `max_bytes` bytes (never inside an escape) with "..." appended when cut.
std::string EscapeForMessage(std::string_view text, size_t max_bytes = 512);

}  // namespace br2k::kube
